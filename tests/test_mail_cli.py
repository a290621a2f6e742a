"""``python main.py mail …``: send-pending, outbox and settings, in process."""

from __future__ import annotations

import io
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.auth import sign_in
from services.authz import SYSTEM
from services.cli.main import main
from services.mail.outbox import enqueue
from services.mfa.cli_session import issue_cli_session
from services.settings import get_secret
from services.store.schema import audit_event, store_meta
from services.users import get_identity
from tests.conftest import enrol_verified

ADMIN_PASSWORD = "Lantern-Harbour-Quiet-Ferry-31"
SMTP_PASSWORD = "Relay-Password-Harbour-42"
TOKEN = "tok-Pz61rVx0qNc4LmWb8sKd3tYh7jGf2aEe"


@pytest.fixture
def mail_cli(ctx, db_url, make_person, clock, monkeypatch, capsys, secrets_to_scan):
    """Runs the CLI in process as a signed-in platform admin: (exit code, stdout, stderr)."""
    secrets_to_scan.update({ADMIN_PASSWORD, SMTP_PASSWORD, TOKEN})
    admin = make_person("platform_admin", password=ADMIN_PASSWORD)
    monkeypatch.setenv("GATEHOUSE_OPERATOR", admin.login_id)
    monkeypatch.setenv("GATEHOUSE_PASSWORD", ADMIN_PASSWORD)
    # The CLI runs on the system clock: bring the test clock to just before it, so that
    # messages queued here are due there.
    clock.advance(datetime.now(UTC) - clock.now() - timedelta(minutes=1))
    # Mail settings are privileged: the admin signs in with a second factor once, and the
    # commands share that command-line session (a TOTP code works only once).
    verified = enrol_verified(ctx, sign_in(ctx, admin.login_id, ADMIN_PASSWORD), secrets_to_scan)
    monkeypatch.setenv("GATEHOUSE_SESSION", issue_cli_session(ctx, verified.operator).token)

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--db", db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _queue(ctx, make_person, n: int) -> None:
    for _ in range(n):
        person = get_identity(ctx, SYSTEM, make_person().subject)
        with ctx.store.write() as conn:
            enqueue(ctx, conn, kind="reset_link", to_address=person.email,
                    identity_subject=person.subject,
                    values={"given_name": person.given_name, "token": TOKEN,
                            "expires_at": "in 30 minutes"})


def test_settings_show_set_unset(ctx, mail_cli) -> None:
    code, out, _ = mail_cli("mail", "settings", "set", "smtp_port", "465", "--json")
    assert code == 0 and json.loads(out) == {"name": "smtp_port", "value": "465"}
    code, out, _ = mail_cli("--json", "mail", "settings", "show")
    shown = {s["name"]: s for s in json.loads(out)["settings"]}
    assert code == 0 and shown["smtp_port"]["value"] == "465"
    assert not shown["smtp_port"]["is_default"] and shown["smtp_host"]["is_default"]
    code, out, _ = mail_cli("mail", "settings", "unset", "smtp_port")
    assert code == 0 and "smtp_port = 587 (default)" in out
    code, out, _ = mail_cli("mail", "settings", "show")
    assert code == 0 and "smtp_port" in out and "mail_transport" in out


def test_smtp_password_comes_from_stdin_only(ctx, mail_cli) -> None:
    code, _, err = mail_cli("mail", "settings", "set", "smtp_password", SMTP_PASSWORD)
    assert code == 2 and "never given on the command line" in err
    assert SMTP_PASSWORD not in err and get_secret(ctx, "smtp_password") is None
    code, out, err = mail_cli("mail", "settings", "set", "smtp_password",
                         stdin=SMTP_PASSWORD + "\n")
    assert code == 0 and "(set)" in out and SMTP_PASSWORD not in out + err
    assert get_secret(ctx, "smtp_password") == SMTP_PASSWORD
    code, out, _ = mail_cli("--json", "mail", "settings", "show")
    assert code == 0 and SMTP_PASSWORD not in out
    with ctx.store.read() as conn:
        everywhere = " ".join(str(r) for t in (store_meta, audit_event)
                              for r in conn.execute(select(t)))
    assert SMTP_PASSWORD not in everywhere


def test_bad_settings_are_one_line_errors(ctx, mail_cli) -> None:
    for argv, words in ((("colour", "blue"), "no setting 'colour'"),
                        (("smtp_port", "many"), "whole number"),
                        (("smtp_host",), "Give the new value")):
        code, out, err = mail_cli("mail", "settings", "set", *argv)
        assert code == 2 and out == "" and words in err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_send_pending_to_the_eml_folder(ctx, mail_cli, make_person, tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    assert mail_cli("mail", "settings", "set", "mail_outbox_folder", str(folder))[0] == 0
    _queue(ctx, make_person, 2)
    code, out, _ = mail_cli("mail", "send-pending", "--json")
    report = json.loads(out)
    assert code == 0 and (report["due"], report["sent"]) == (2, 2)
    assert len(list(folder.glob("*.eml"))) == 2
    code, out, _ = mail_cli("mail", "send-pending")
    assert code == 0 and "Sent 0 of 0 due messages" in out
    code, out, _ = mail_cli("--json", "mail", "outbox", "--status", "sent")
    listed = json.loads(out)
    assert code == 0 and listed["count"] == 2 and TOKEN not in out


def test_send_pending_exits_1_when_mail_cannot_go(ctx, mail_cli, make_person) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in (("mail_transport", "smtp"), ("smtp_host", "127.0.0.1"),
                        ("smtp_port", str(port)), ("smtp_timeout_seconds", "5")):
        assert mail_cli("mail", "settings", "set", name, value)[0] == 0
    _queue(ctx, make_person, 1)
    code, out, _ = mail_cli("mail", "send-pending")
    assert code == 1
    assert "Sent 0 of 1 due messages" in out and "Cannot reach the mail server" in out


def test_mail_commands_need_the_mail_role(ctx, mail_cli, make_person, monkeypatch) -> None:
    person = make_person("security_reviewer", password=ADMIN_PASSWORD)
    monkeypatch.setenv("GATEHOUSE_OPERATOR", person.login_id)
    monkeypatch.delenv("GATEHOUSE_SESSION")  # the admin's: act as the reviewer instead
    for argv in (("mail", "send-pending"), ("mail", "settings", "show"),
                 ("mail", "settings", "set", "smtp_host", "x.example")):
        code, _, err = mail_cli(*argv)
        assert code == 2 and "does not allow mail send" in err
