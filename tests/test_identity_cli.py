"""``identity delete / restore / claim`` and ``profile update / change-email / confirm-email``
end to end, as an admin and a person would run them, on SQLite and PostgreSQL: ``--json``
documents, exit codes, one-line reasons, and the confirmation code read from the mail."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select

from services.auth import operator_for
from services.authz import SYSTEM, Operator
from services.context import Context
from services.identity_lifecycle import delete_identity
from services.store.schema import outbox
from services.users import add_identity
from tests.conftest import Cli, CliResult

ADMIN = ("dana.admin@xoserve.example", "amber falcon river quartz")
ALEX = ("alex.morgan@xoserve.example", "maple obtuse quarry lantern")


def refused(result: CliResult, fragment: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("gatehouse: ")
    assert "Traceback" not in result.err and fragment in result.err, result.err


def ok(result: CliResult) -> dict[str, object]:
    assert result.code == 0, result.err
    document: dict[str, object] = result.json()
    return document


def mailed_code(ctx: Context, address: str) -> str:
    with ctx.store.read() as conn:
        sealed = conn.execute(select(outbox.c.body_sealed).where(
            outbox.c.to_address == address, outbox.c.kind == "email_change")).scalar_one()
    (code,) = dict.fromkeys(re.findall(r"[\w-]{43}", ctx.vault.decrypt(sealed, "outbox-body")
                                       .decode()))
    return code


def test_delete_restore_and_claim(ctx: Context, db_url: str, cli: Cli,
                                  make_person: Callable[..., Operator],
                                  secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(ADMIN[1])
    make_person("platform_admin", email=ADMIN[0], password=ADMIN[1])
    add_identity(ctx, SYSTEM, "sam.taylor@xoserve.example", "Sam", "Taylor", "XOS",
                 ["DES:viewer"])
    old = add_identity(ctx, SYSTEM, "jo.bloggs@xoserve.example", "Jo", "Bloggs", "XOS",
                       ["UKLINK:submitter"])
    # Deleted long ago on the test's clock (January), so cooled off by the system clock the
    # command line runs on.
    delete_identity(ctx, SYSTEM, old.login_id, reason="left")
    cli.share_keys()
    cli.operator = ADMIN
    db = ("--db", db_url, "--json")

    refused(cli(*db, "identity", "delete", "sam.taylor@xoserve.example"), "--reason")
    deleted = ok(cli(*db, "identity", "delete", "Sam.Taylor@xoserve.example",
                     "--reason", "left the company"))
    assert deleted["status"] == "deleted"
    refused(cli(*db, "identity", "claim", "sam.taylor@xoserve.example", "--given", "Sam",
                "--family", "Taylor", "--org", "XOS", "--yes"), "cooling off")
    restored = ok(cli(*db, "identity", "restore", "sam.taylor@xoserve.example"))
    assert restored["status"] == "reset_required" and restored["subject"] == deleted["subject"]
    assert restored["entitlements"] == [{"product": "DES", "role": "viewer"}]

    # Without --yes (and no terminal to ask at) the previous holder is named, nothing made.
    refused(cli(*db, "identity", "claim", old.login_id, "--given", "Jo", "--family",
                "Bloggs", "--org", "XOS"), old.subject)
    claimed = ok(cli(*db, "identity", "claim", old.login_id, "--given", "Jo", "--family",
                     "Bloggs", "--org", "XOS", "--yes"))
    identity = claimed["identity"]
    assert isinstance(identity, dict) and isinstance(claimed["claim"], dict)
    assert identity["subject"] != old.subject and identity["entitlements"] == []
    assert [h["subject"] for h in claimed["claim"]["previous_holders"]] == [old.subject]
    refused(cli(*db, "identity", "restore", old.subject), "no longer be restored")


def test_profile_update_and_email_change(ctx: Context, db_url: str, cli: Cli,
                                         make_person: Callable[..., Operator],
                                         secrets_to_scan: set[str]) -> None:
    from services.password_hash import hash_password

    secrets_to_scan.update({ADMIN[1], ALEX[1]})
    make_person("platform_admin", email=ADMIN[0], password=ADMIN[1])
    alex = operator_for(add_identity(ctx, SYSTEM, ALEX[0], "Alex", "Morgan", "XOS",
                                     password_hash=hash_password(ALEX[1])))
    cli.share_keys()
    db = ("--db", db_url, "--json")

    # A person corrects their own details; the login ID is not theirs to change.
    mine = ok(cli(*db, "profile", "update", ALEX[0], "--job-title", "Analyst", "--phone",
                  "+44 121 623 2000", operator=ALEX))
    assert (mine["job_title"], mine["phone"]) == ("Analyst", "+44 121 623 2000")
    refused(cli(*db, "profile", "update", ALEX[0], "--phone", "ring me", operator=ALEX),
            "phone number")
    refused(cli(*db, "profile", "update", ALEX[0], "--given", "Al", "--expect-version", "1",
                operator=ALEX), "changed by someone else")
    refused(cli(*db, "profile", "change-email", ALEX[0], "alex@correla.example",
                operator=ALEX), "may not change the e-mail")

    result = cli(*db, "profile", "change-email", ALEX[0], "Alex.Morgan@Correla.example",
                 operator=ADMIN)
    started = ok(result)
    assert started["new_login_id"] == "alex.morgan@correla.example"
    code = mailed_code(ctx, "Alex.Morgan@correla.example")
    assert code not in result.out  # it goes to the new address only
    refused(cli(*db, "profile", "confirm-email", stdin="not-the-code\n"), "not valid")
    confirmed = ok(cli(*db, "profile", "confirm-email", stdin=code + "\n"))
    assert confirmed["login_id"] == "alex.morgan@correla.example"
    assert confirmed["subject"] == alex.subject
    refused(cli(*db, "identity", "claim", ALEX[0], "--given", "X", "--family", "Y",
                "--org", "XOS", "--yes", operator=ADMIN), "cooling off")
