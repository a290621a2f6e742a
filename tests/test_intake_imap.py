"""The DES ACCESS intake read straight from an IMAP server (tests/imap_server.py, on loopback,
with trustme certificates): implicit TLS and STARTTLS are read, read-only and leaving messages
unread; a second read fetches only what is new; TLS 1.1, plaintext, an unknown authority and
a wrong password are refused with nothing queued and the password nowhere."""

from __future__ import annotations

import imaplib
import ssl
import warnings
from typing import Any

import pytest
import trustme
from sqlalchemy import func, select

from services.authz import Operator
from services.context import Context
from services.errors import InvalidInput, PermissionDenied
from services.intake import list_queue
from services.intake_imap import MailboxUnavailable, ingest_imap
from services.settings import set_secret, set_value
from services.store.schema import intake_message
from tests.conftest import Cli
from tests.imap_server import Mailbox, plaintext_greeting_server, serving
from tests.loopback_tls import permissive_client_context, server_context
from tests.test_intake import ALEX, SPOOF_RESULTS, raw_mail

IMAP_PASSWORD = "Mailbox-Password-Harbour-7"
USER = "des.access@xoserve.example"


@pytest.fixture(autouse=True)
def _scan_audit_for_these(secrets_to_scan: set[str]) -> None:
    """The shared audit scan (tests/conftest.py) also looks for this module's secrets."""
    secrets_to_scan.update({IMAP_PASSWORD, "Wrong-Mailbox-Password-1", "Mot-de-passe-été-7"})


def _box(**folders: list[bytes]) -> Mailbox:
    messages = [
        raw_mail(crlf=True),
        raw_mail(sender="Sam <sam@elsewhere.example>", message_id="<req-2@elsewhere.example>"),
        raw_mail(message_id="<req-3@nw.example>", headers=(SPOOF_RESULTS,)),
        raw_mail(subject="Lunch on Friday?", message_id="<lunch@nw.example>"),
        b"\x00\x01 not mail at all \xff\xfe",
    ]
    return Mailbox(USER, IMAP_PASSWORD, folders or {"INBOX": messages, "Archive": []})


def _configure(ctx: Context, admin: Operator, port: int, security: str, ca_file: Any, *,
               password: str = IMAP_PASSWORD, folder: str = "INBOX") -> None:
    for name, value in (("intake_imap_host", "127.0.0.1"), ("intake_imap_port", port),
                        ("intake_imap_security", security), ("intake_imap_username", USER),
                        ("intake_imap_folder", folder), ("intake_imap_timeout_seconds", 10)):
        set_value(ctx, admin, name, value)
    if ca_file is not None:
        set_value(ctx, admin, "intake_imap_ca_file", str(ca_file))
    set_secret(ctx, admin, "intake_imap_password", password)


def _queued(ctx: Context) -> int:
    with ctx.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(intake_message)).scalar_one())


@pytest.mark.parametrize("security", ["implicit", "starttls"])
def test_the_folder_is_read_once_read_only_and_left_unread(
        ctx: Context, make_person: Any, ca: trustme.CA, ca_file: Any, security: str) -> None:
    admin = make_person("platform_admin")
    make_person(email=ALEX)
    box = _box()
    with serving(box, security, server_context(ca)) as port:
        _configure(ctx, admin, port, security, ca_file)
        report = ingest_imap(ctx, admin)
        assert (report.kind, report.read, report.queued, report.ignored) == ("imap", 5, 4, 1)
        assert report.matched == 2 and report.already_ingested == 0
        assert report.flagged == {"malformed": 1, "unmatched": 2, "duplicate": 0, "spoofed": 1}
        assert report.source == (f"imap://des.access%40xoserve.example@127.0.0.1:{port}/INBOX;"
                                 "UIDVALIDITY=7001")
        # Signed in inside TLS 1.2+, opened read-only, fetched without setting \Seen.
        assert box.logins == [(True, "TLSv1.3")]
        assert box.opened == ["EXAMINE INBOX"] and not box.marked_seen
        assert {item for _uid, item in box.fetched} == {"BODY.PEEK[]"}

        # The mailbox grows; the next read fetches only the new message.
        box.folders["INBOX"].append(raw_mail(message_id="<req-6@nw.example>",
                                             subject="des access again please"))
        box.fetched.clear()
        again = ingest_imap(ctx, admin)
    assert (again.read, again.queued, again.already_ingested) == (1, 1, 5)
    assert [uid for uid, _item in box.fetched] == [6]
    items = list_queue(ctx, admin)
    assert {item.source.rsplit(";UID=", 1)[1] for item in items} == {"1", "2", "3", "5", "6"}
    assert all(item.source.startswith("imap://") for item in items)


def test_a_renumbered_folder_is_read_again_and_the_copies_flagged(
        ctx: Context, make_person: Any, ca: trustme.CA, ca_file: Any) -> None:
    admin = make_person("platform_admin")
    box = _box()
    with serving(box, "implicit", server_context(ca)) as port:
        _configure(ctx, admin, port, "implicit", ca_file)
        ingest_imap(ctx, admin)
        box.uidvalidity += 1  # the server rebuilt the folder: UIDs mean other messages now
        again = ingest_imap(ctx, admin)
    assert (again.read, again.already_ingested, again.queued) == (5, 0, 4)
    assert again.flagged["duplicate"] == 4  # the same bytes from another source: reviewed


@pytest.mark.parametrize("security", ["implicit", "starttls"])
def test_a_server_offering_only_tls_1_1_is_refused(
        ctx: Context, make_person: Any, ca: trustme.CA, ca_file: Any, security: str) -> None:
    admin = make_person("platform_admin")
    box = _box()
    with serving(box, security, server_context(ca, tls11_only=True)) as port:
        # The server works for a lenient client…
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            lenient = permissive_client_context(ca_file)
            imap = (imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=lenient, timeout=10)
                    if security == "implicit" else imaplib.IMAP4("127.0.0.1", port, timeout=10))
            if security == "starttls":
                imap.starttls(ssl_context=lenient)
            assert isinstance(imap.sock, ssl.SSLSocket) and imap.sock.version() == "TLSv1.1"
            imap.logout()
        # …and not for Gatehouse, which never signs in.
        _configure(ctx, admin, port, security, ca_file)
        with pytest.raises(MailboxUnavailable, match=r"only TLS 1\.1 or older"):
            ingest_imap(ctx, admin)
    assert box.logins == [] and _queued(ctx) == 0


def test_a_server_without_starttls_is_refused_before_the_password(
        ctx: Context, make_person: Any, ca_file: Any) -> None:
    admin = make_person("platform_admin")
    listener, thread = plaintext_greeting_server()
    with listener:
        _configure(ctx, admin, listener.getsockname()[1], "starttls", ca_file)
        with pytest.raises(MailboxUnavailable, match="does not offer STARTTLS") as refused:
            ingest_imap(ctx, admin)
    thread.join(timeout=10)
    assert IMAP_PASSWORD not in str(refused.value) and _queued(ctx) == 0


def test_an_unknown_authority_a_wrong_password_and_a_missing_folder_are_explained(
        ctx: Context, make_person: Any, ca: trustme.CA, ca_file: Any) -> None:
    admin = make_person("platform_admin")
    box = _box()
    with serving(box, "implicit", server_context(trustme.CA())) as port:
        _configure(ctx, admin, port, "implicit", ca_file)
        with pytest.raises(MailboxUnavailable, match=r"certificate .* was not accepted"):
            ingest_imap(ctx, admin)
    with serving(box, "implicit", server_context(ca)) as port:
        _configure(ctx, admin, port, "implicit", ca_file, password="Wrong-Mailbox-Password-1")
        with pytest.raises(MailboxUnavailable, match="refused the user name or password") as bad:
            ingest_imap(ctx, admin)
        assert "Wrong-Mailbox-Password-1" not in str(bad.value)
        _configure(ctx, admin, port, "implicit", ca_file, password="Mot-de-passe-été-7")
        with pytest.raises(MailboxUnavailable, match="other than ASCII") as accented:
            ingest_imap(ctx, admin)
        assert "Mot-de-passe" not in str(accented.value)
        _configure(ctx, admin, port, "implicit", ca_file, folder="Requests")
        with pytest.raises(MailboxUnavailable, match="no folder 'Requests'"):
            ingest_imap(ctx, admin)
    assert box.logins == [(False, "TLSv1.3"), (True, "TLSv1.3")] and _queued(ctx) == 0


def test_reading_needs_the_review_role_and_the_settings(
        ctx: Context, make_person: Any) -> None:
    admin = make_person("platform_admin")
    with pytest.raises(InvalidInput, match="No mailbox server is set"):
        ingest_imap(ctx, admin)
    for role in ("lso", "security_reviewer", "user"):
        with pytest.raises(PermissionDenied):
            ingest_imap(ctx, make_person(role) if role != "user" else make_person())
    with pytest.raises(PermissionDenied):
        set_value(ctx, make_person("lso"), "intake_imap_host", "imap.example")


def test_the_command_line_reads_the_server(db_url: str, cli: Cli, ca: trustme.CA,
                                           ca_file: Any) -> None:
    admin = ("dana.admin@xoserve.example", "amber falcon river quartz")
    assert cli("--db", db_url, "init", "--admin", admin[0], stdin=admin[1] + "\n").code == 0
    cli.operator = admin
    box = _box()
    with serving(box, "implicit", server_context(ca)) as port:
        for name, value in (("intake_imap_host", "127.0.0.1"), ("intake_imap_port", str(port)),
                            ("intake_imap_username", USER), ("intake_imap_ca_file",
                                                             str(ca_file))):
            assert cli("--db", db_url, "mail", "settings", "set", name, value).code == 0
        secret = cli("--db", db_url, "mail", "settings", "set", "intake_imap_password",
                     stdin=IMAP_PASSWORD + "\n")
        assert secret.code == 0, secret.err
        both = cli("--db", db_url, "reset", "intake", "saved.mbox", "--imap")
        assert both.code == 2 and "not both" in both.err
        read = cli("--db", db_url, "--json", "reset", "intake", "--imap")
    assert read.code == 0, read.err
    data = read.json()
    assert isinstance(data, dict) and (data["kind"], data["queued"]) == ("imap", 4)
    assert IMAP_PASSWORD not in read.out + read.err + secret.out + secret.err
