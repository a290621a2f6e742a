"""The reset commands end to end through the CLI, as an admin and a user would run them:
force a reset, deliver the mail to the outbox folder, read the code from the message, complete
the reset with a new password on standard input, sign in with it. On SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from tests.conftest import Cli

ADMIN = ("dana.admin@xoserve.example", "amber falcon river quartz")
NEW_PASSWORD = "copper meadow signal thistle"


def codes_in(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        found.extend(dict.fromkeys(re.findall(r"[A-Za-z0-9_-]{43}", body.get_content())))
    return found


def test_force_deliver_complete_and_sign_in(db_url: str, cli: Cli, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    assert cli("--db", db_url, "init", "--admin", ADMIN[0], stdin=ADMIN[1] + "\n").code == 0
    cli.operator = ADMIN
    added = cli("--db", db_url, "users", "add", "Alex.Morgan@northwind.example", "--given",
                "Alex", "--family", "Morgan", "--org", "XOS", "--role", "DES:viewer")
    assert added.code == 0, added.err
    setting = cli("--db", db_url, "mail", "settings", "set", "mail_outbox_folder", str(outbox))
    assert setting.code == 0, setting.err

    forced = cli("--db", db_url, "--json", "reset", "force", "alex.morgan@northwind.example",
                 "--reason", "migration wave 1")
    assert forced.code == 0, forced.err
    assert forced.json() == {"forced": "alex.morgan@northwind.example"}
    sent = cli("--db", db_url, "mail", "send-pending", "--json")
    assert sent.code == 0, sent.err
    (code,) = codes_in(outbox)
    # The code never appears in what the admin saw.
    assert code not in forced.out + forced.err + sent.out + sent.err

    user = ("alex.morgan@northwind.example", NEW_PASSWORD)
    weak = cli("--db", db_url, "reset", "complete", stdin="Summer2026!!\n",
               extra_env={"GATEHOUSE_RESET_CODE": code}, operator=("", ""))
    assert weak.code == 1 and "not accepted" in weak.err and "Summer2026" not in weak.err
    done = cli("--db", db_url, "--json", "reset", "complete", "--token", code,
               stdin=NEW_PASSWORD + "\n")
    assert done.code == 0, done.err
    again = cli("--db", db_url, "reset", "complete", "--token", code, stdin=NEW_PASSWORD + "\n")
    assert again.code == 2 and "not valid" in again.err

    shown = cli("--db", db_url, "--json", "users", "show", user[0], operator=user)
    assert shown.code == 0, shown.err
    me = shown.json()
    assert isinstance(me, dict) and me["status"] == "active"


def test_request_answers_alike_and_queue_is_listed(db_url: str, cli: Cli) -> None:
    assert cli("--db", db_url, "init", "--admin", ADMIN[0], stdin=ADMIN[1] + "\n").code == 0
    known, unknown = cli.many(("--db", db_url, "--json", "reset", "request", ADMIN[0]),
                              ("--db", db_url, "--json", "reset", "request",
                               "nobody@xoserve.example"))
    assert known.code == unknown.code == 0
    assert known.out == unknown.out
    queue = cli("--db", db_url, "--json", "reset", "queue", operator=ADMIN)
    assert queue.code == 0, queue.err
    assert queue.json() == {"count": 0, "items": []}
    refused = cli("--db", db_url, "reset", "force", ADMIN[0], operator=("x@y.example", "nope"))
    assert refused.code == 2 and len(refused.err_lines) == 1
