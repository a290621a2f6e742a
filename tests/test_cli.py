"""The CLI contract (DESIGN.md): ``python main.py [--db URL] COMMAND``, ``--json`` prints one
JSON document, exit 0 success / 1 found wanting / 2 bad input with exactly one line on stderr
and never a traceback. Run as a subprocess, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect

from services.cli.main import parse_args
from tests.conftest import REPO_ROOT, Call, Cli, CliResult, backend_of

ADMIN = ("dana.admin@xoserve.example", "amber falcon river quartz")
GENERIC_SIGN_IN = ("gatehouse: Sign-in failed: the email address or password is wrong. "
                   "Check both and try again.")


def refused(result: CliResult, *fragments: str) -> None:
    """Exit 2, exactly one line on stderr naming the reason, no traceback, nothing on stdout."""
    assert result.code == 2, (result.code, result.out, result.err)
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("gatehouse: ")
    assert "Traceback" not in result.err
    assert result.out == ""
    for fragment in fragments:
        assert fragment in result.err_lines[0], result.err


def ok(result: CliResult) -> Any:
    assert result.code == 0, result.err
    assert result.err == ""
    return result.json()


def store_is_empty(url: str, cli: Cli) -> bool:
    if backend_of(url) == "sqlite":
        database = Path(url.removeprefix("sqlite:///"))
        tables_exist = database.exists()
    else:
        engine = create_engine(url)
        try:
            tables_exist = bool(inspect(engine).get_table_names())
        finally:
            engine.dispose()
    return not tables_exist and cli.file_entries() == {}


def test_the_command_line_end_to_end(db_url: str, cli: Cli, secrets_to_scan: set[str],
                                     another_store_url: Callable[[], str]) -> None:
    """Independent steps run side by side: each start of the CLI costs about a second."""
    secrets_to_scan.add(ADMIN[1])
    second = another_store_url()  # for the determinism check
    db = ("--db", db_url)
    init = ("init", "--admin", ADMIN[0], "--json")
    seed = ("demo-data", "seed", "--users", "30", "--seed", "7", "--json")

    created, created_second = cli.many(Call((*db, *init), stdin=ADMIN[1] + "\n"),
                                       Call(("--db", second, *init), stdin=ADMIN[1] + "\n"))
    assert ok(created)["admin"]["login_id"] == ADMIN[0]
    assert ok(created)["admin"]["entitlements"] == [{"product": "GATEHOUSE",
                                                     "role": "platform_admin"}]
    ok(created_second)

    cli.operator = ADMIN
    seeded, seeded_second, init_again = cli.many(
        (*db, *seed), ("--db", second, *seed), Call((*db, *init), stdin=ADMIN[1] + "\n"))
    assert ok(seeded) == ok(seeded_second) == {"identities": 30, "organisations": 7}
    refused(init_again, "already set up")

    after, before, listed_second = cli.many(
        (*db, "users", "list", "--json"), (*db, "--json", "users", "list"),
        ("--db", second, "users", "list", "--json"))
    listed = ok(after)
    assert ok(before) == listed  # --json before or after the command
    assert listed["count"] == 31
    logins = [i["login_id"] for i in listed["identities"]]
    assert ADMIN[0] in logins
    # Determinism: the same seed on a second store gives the same people.
    assert [i["login_id"] for i in ok(listed_second)["identities"]] == logins
    assert [i["subject"] for i in ok(listed_second)["identities"] if i["login_id"] != ADMIN[0]] \
        == [i["subject"] for i in listed["identities"] if i["login_id"] != ADMIN[0]]

    someone = next(i for i in listed["identities"] if i["login_id"] != ADMIN[0])
    add = (*db, "users", "add", "pat.kay@northwind-gas.example", "--given", "Pat", "--family",
           "Kay")
    shown_json, shown_text, added, bad_role, bad_org = cli.many(
        (*db, "users", "show", someone["login_id"].upper(), "--json"),
        (*db, "users", "show", someone["subject"]),
        (*db, "users", "add", " Kim.Lee@Northwind-Gas.example", "--given", "Kim", "--family",
         "Lee", "--org", "nwgs", "--role", "DES:viewer", "--role", "UKLINK:submitter",
         "--json"),
        (*add, "--org", "NWGS", "--role", "DES:superuser"),
        (*add, "--org", "NOPE"))
    shown = ok(shown_json)
    assert (shown["subject"], shown["login_id"]) == (someone["subject"], someone["login_id"])
    assert f"login ID:     {someone['login_id']}" in shown_text.out
    added_doc = ok(added)
    assert (added_doc["login_id"], added_doc["email"], added_doc["status"],
            added_doc["org_code"]) == ("kim.lee@northwind-gas.example",
                                       "Kim.Lee@northwind-gas.example", "reset_required", "NWGS")
    assert added_doc["entitlements"] == [{"product": "DES", "role": "viewer"},
                                         {"product": "UKLINK", "role": "submitter"}]
    refused(bad_role, "DES has no role 'superuser'")
    refused(bad_org, "There is no organisation with code 'NOPE'")

    disabled, duplicate, org_added, wrong, unknown, nobody = cli.many(
        (*db, "users", "disable", "kim.lee@northwind-gas.example", "--reason",
         "moved to another company", "--json"),
        (*db, "users", "add", "KIM.LEE@northwind-gas.example", "--given", "Kim", "--family",
         "Lee", "--org", "NWGS"),
        (*db, "orgs", "add", "ZZ9", "--name", "Plural Z Alpha", "--type", "other", "--json"),
        Call((*db, "users", "list"), operator=(ADMIN[0], ADMIN[1] + "x")),
        Call((*db, "users", "list"), operator=("nobody@xoserve.example", ADMIN[1])),
        Call((*db, "users", "list"), extra_env={"GATEHOUSE_OPERATOR": ""}))
    assert ok(disabled)["status"] == "disabled"
    refused(duplicate, "already exists")
    assert ok(org_added) == {"code": "ZZ9", "name": "Plural Z Alpha", "type": "other",
                             "version": 1}
    refused(wrong)
    refused(unknown)  # the first sign-in of a fresh process, for an unknown account
    assert wrong.err_lines == unknown.err_lines == [GENERIC_SIGN_IN]
    refused(nobody, "set GATEHOUSE_OPERATOR")

    final_list, orgs, verified = cli.many((*db, "users", "list", "--json"),
                                          (*db, "orgs", "list", "--json"),
                                          (*db, "audit", "verify", "--json"))
    assert ok(final_list)["count"] == 32  # the refused adds added nobody
    assert {o["code"] for o in ok(orgs)["organisations"]} == {
        "XOS", "NWGS", "BRWS", "PENN", "SEVN", "ORCH", "TYNE", "CALD", "ZZ9"}
    report = ok(verified)
    assert (report["intact"], report["first_bad_event"]) == (True, None)
    assert report["events_verified"] > 10


def test_init_refuses_bad_input_and_creates_nothing(db_url: str, cli: Cli) -> None:
    short, no_password, bad_email = cli.many(
        Call(("--db", db_url, "init", "--admin", ADMIN[0]), stdin="too short\n"),
        ("--db", db_url, "init", "--admin", ADMIN[0]),  # standard input is empty
        Call(("--db", db_url, "init", "--admin", "not-an-email"), stdin=ADMIN[1] + "\n"),
    )
    # A rejected password is "checked and found wanting": exit 1 (DESIGN.md, CLI contract).
    for rejected, length in ((short, 9), (no_password, 0)):
        assert rejected.code == 1, rejected.err
        assert len(rejected.err_lines) == 1, rejected.err
        assert "Traceback" not in rejected.err
        assert f"{length} characters; use at least 15" in rejected.err
    refused(bad_email, "not a valid email address")
    assert store_is_empty(db_url, cli)


def test_usage_errors_are_one_line_on_stderr(cli: Cli, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    results = cli.many(
        ("frobnicate",),
        ("users",),
        ("users", "list", "--sort", "shoe_size"),
        ("--db", "postgresql+psycopg://gatehouse@db.example:notaport/x", "users", "list"),
        ("--db", "mysql://gatehouse@db.example/x", "users", "list"),
        ("--db", "sqlite:///:memory:", "users", "list"),
        ("--db", "postgresql+psycopg://gatehouse@127.0.0.1:1/gatehouse", "users", "list"),
        ("--db", store, "users", "list"),
    )
    unknown, no_action, bad_choice, bad_url, bad_driver, memory, unreachable, not_set_up = results
    refused(unknown, "invalid choice: 'frobnicate'")
    refused(no_action, "required: ACTION")
    refused(bad_choice, "invalid choice: 'shoe_size'")
    refused(bad_url, "is not valid: use sqlite:///PATH")
    refused(bad_driver, "'mysql' is not supported")
    refused(memory, "needs a file path")
    refused(unreachable, "Cannot open the database at", "127.0.0.1:1")
    refused(not_set_up, "There is no Gatehouse store at", "python main.py init")


@pytest.mark.parametrize("code", ["-Zq3vA1xTn0cR8u2sWb7yKd4pLm6eHf9gJi5oVw3XyBc",
                                  "--q3vA1xTn0cR8u2sWb7yKd4pLm6eHf9gJi5oVw3XyBc",
                                  "Zq3vA1xTn0cR8u2sWb7yKd4pLm6eHf9gJi5oVw3Xy-_"])
@pytest.mark.parametrize("command", [("reset", "complete"), ("profile", "confirm-email")])
def test_a_code_that_begins_with_a_dash_is_taken_as_given(code: str,
                                                         command: tuple[str, ...]) -> None:
    """Codes are URL-safe base64, so one in 64 begins with "-": both spellings a person may
    paste from the mail reach the command as the code, not as an unknown option."""
    for words in ([*command, "--token", code, "--json"], [*command, f"--token={code}"],
                  ["--json", *command, "--token", code]):
        assert parse_args(words).token == code


def test_a_reader_that_stops_early_gets_no_error_message(cli: Cli, tmp_path: Path) -> None:
    """``python main.py users list --json | head``: the listing ran; saying "Broken pipe;
    nothing was changed" would be noise and, after a change, untrue."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    assert cli("--db", store, "init", "--admin", ADMIN[0], stdin=ADMIN[1] + "\n").code == 0
    reader = subprocess.Popen(
        [sys.executable, "main.py", "--db", store, "users", "list", "--json"], cwd=REPO_ROOT,
        env=cli.env_for(ADMIN), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # before the command writes a byte
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 0 and err == ""
