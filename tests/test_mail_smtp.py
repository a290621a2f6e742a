"""SMTP delivery against a real SMTP server on loopback (aiosmtpd, in a thread) with trustme
certificates: STARTTLS and implicit TLS are accepted; TLS 1.1, plaintext, an unknown CA and a
wrong host name are refused, and the outbox row stays pending with the reason."""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from services.authz import SYSTEM
from services.errors import InvalidInput
from services.mail.delivery import deliver_pending, transport_from_settings
from services.mail.outbox import enqueue
from services.mail.smtp import SmtpTransport
from services.mail.transport import DeliveryError
from services.settings import set_secret, set_value
from services.store.schema import audit_event, outbox
from services.users import get_identity
from tests.loopback_tls import permissive_client_context, server_context

TOKEN = "tok-Wq84nZbP1xLs7RkV3cYt9mJd2hFg6aUe"
SMTP_PASSWORD = "Relay-Password-Harbour-42"
ACCENTED_PASSWORD = "Mot-de-passe-été-7"


@pytest.fixture(autouse=True)
def _scan_audit_for_these(secrets_to_scan: set[str]) -> None:
    """The shared audit scan (tests/conftest.py) also looks for this module's secrets."""
    secrets_to_scan.update({SMTP_PASSWORD, TOKEN, "Wrong-Password-Harbour-1", ACCENTED_PASSWORD})


# ---- a real SMTP server on a free loopback port --------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls_version: str | None


@dataclass
class Recorder:
    """aiosmtpd handler: keeps what arrived and whether each command came over TLS."""

    messages: list[Received] = field(default_factory=list)
    commands: list[tuple[str, str | None]] = field(default_factory=list)

    @staticmethod
    def _tls(server: Any) -> str | None:
        ssl_object = server.transport.get_extra_info("ssl_object")
        return ssl_object.version() if ssl_object is not None else None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.commands.append(("MAIL", self._tls(server)))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("later"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content or envelope.content,
                                      self._tls(server)))
        return "250 2.0.0 Message accepted for delivery"


class LoopbackController(Controller):
    """Binds port 0 (a free port chosen by the OS) and learns which one it got."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        # The SMTP object is made when a connection is accepted, before any TLS handshake,
        # so a bare connect is enough (and works whatever TLS versions the server allows).
        with socket.create_connection((self.hostname, self.port), 5.0):
            pass


@contextmanager
def serving(handler: Recorder, **kwargs: Any) -> Iterator[LoopbackController]:
    controller = LoopbackController(handler, hostname="127.0.0.1", port=0,
                                    server_hostname="mail.loopback.test", **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


# ---- store helpers -------------------------------------------------------------------------


def _use_smtp(ctx, admin, port: int, security: str, ca_file: Path | None, *,
              username: str = "", password: str | None = None) -> None:
    set_value(ctx, admin, "mail_transport", "smtp")
    set_value(ctx, admin, "smtp_host", "127.0.0.1")
    set_value(ctx, admin, "smtp_port", port)
    set_value(ctx, admin, "smtp_security", security)
    set_value(ctx, admin, "smtp_timeout_seconds", 10)
    set_value(ctx, admin, "mail_from", "Gatehouse <gatehouse@xoserve.example>")
    if ca_file is not None:
        set_value(ctx, admin, "smtp_ca_file", str(ca_file))
    if username:
        set_value(ctx, admin, "smtp_username", username)
    if password is not None:
        set_secret(ctx, admin, "smtp_password", password)


def _queue_reset_mail(ctx, make_person, email: str = "alex.morgan@northwind.example") -> int:
    person = get_identity(ctx, SYSTEM, make_person(email=email).subject)
    with ctx.store.write() as conn:
        return enqueue(ctx, conn, kind="reset_link", to_address=person.email,
                       identity_subject=person.subject,
                       values={"given_name": "Alex", "token": TOKEN,
                               "expires_at": "2026-01-05 09:30 UTC"})


def _row(ctx, outbox_id: int) -> Any:
    with ctx.store.read() as conn:
        return conn.execute(select(outbox).where(outbox.c.id == outbox_id)).one()


def _message(**headers: str) -> Any:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "gatehouse@xoserve.example"
    message["To"] = "alex.morgan@northwind.example"
    message["Subject"] = "Test"
    message["Message-ID"] = "<test.1@xoserve.example>"
    for name, value in headers.items():
        message[name] = value
    message.set_content("hello\n")
    return message


# ---- accepted ------------------------------------------------------------------------------


def test_starttls_delivery_is_accepted_and_arrives_intact(ctx, make_person, ca, ca_file,
                                                          clock) -> None:
    admin = make_person("platform_admin")
    outbox_id = _queue_reset_mail(ctx, make_person)
    handler = Recorder()
    with serving(handler, tls_context=server_context(ca), require_starttls=True) as server:
        _use_smtp(ctx, admin, server.port, "starttls", ca_file)
        report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert (report.sent, report.retrying, report.failed, report.stopped) == (1, 0, 0, None)
    assert len(handler.messages) == 1
    got = handler.messages[0]
    assert got.tls_version in ("TLSv1.2", "TLSv1.3")
    assert all(tls in ("TLSv1.2", "TLSv1.3") for _cmd, tls in handler.commands)
    assert got.rcpt_tos == ["alex.morgan@northwind.example"]
    assert got.mail_from == "gatehouse@xoserve.example"
    mail = BytesParser(policy=policy.default).parsebytes(got.content)
    row = _row(ctx, outbox_id)
    assert mail["To"] == "alex.morgan@northwind.example"
    assert mail["Subject"] == "Your Gatehouse password reset code"
    assert mail["Message-ID"] == row.message_id
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_body().get_content()
    assert TOKEN in body and body.startswith("Hello Alex,")
    assert (row.status, row.sent_at, row.attempts, row.last_error) == ("sent", clock.now(), 1,
                                                                        None)


def test_implicit_tls_delivery_is_accepted(ctx, make_person, ca, ca_file) -> None:
    admin = make_person("platform_admin")
    outbox_id = _queue_reset_mail(ctx, make_person)
    handler = Recorder()
    with serving(handler, ssl_context=server_context(ca)) as server:
        _use_smtp(ctx, admin, server.port, "implicit", ca_file)
        report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert report.sent == 1
    assert [m.tls_version in ("TLSv1.2", "TLSv1.3") for m in handler.messages] == [True]
    assert TOKEN.encode() in handler.messages[0].content
    assert _row(ctx, outbox_id).status == "sent"


def test_sign_in_happens_inside_tls_and_the_password_never_leaks(ctx, make_person, ca,
                                                                 ca_file) -> None:
    seen: list[tuple[bytes, bool]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login, session.ssl is not None))
        # handled=False: aiosmtpd answers 235 or 535 itself.
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode(), handled=False)

    admin = make_person("platform_admin")
    outbox_id = _queue_reset_mail(ctx, make_person)
    handler = Recorder()
    with serving(handler, tls_context=server_context(ca), require_starttls=True,
                 authenticator=authenticator, auth_require_tls=True) as server:
        _use_smtp(ctx, admin, server.port, "starttls", ca_file, username="gatehouse",
                  password="Wrong-Password-Harbour-1")
        refused = deliver_pending(ctx, admin, transport_from_settings(ctx))
        assert refused.sent == 0 and refused.stopped is not None
        assert "refused the user name or password" in refused.stopped
        row = _row(ctx, outbox_id)
        assert row.status == "pending" and "Wrong-Password" not in (row.last_error or "")
        set_secret(ctx, admin, "smtp_password", SMTP_PASSWORD)
        ctx.clock.advance(timedelta(hours=1))
        accepted = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert accepted.sent == 1 and len(handler.messages) == 1
    assert set(seen) == {(b"gatehouse", True)}  # every attempt inside TLS
    with ctx.store.read() as conn:
        trail = " ".join(" ".join(map(str, r)) for r in conn.execute(select(audit_event)).all())
    assert SMTP_PASSWORD not in trail and "Wrong-Password" not in trail


def test_a_password_smtp_cannot_carry_is_explained(ctx, make_person, ca, ca_file) -> None:
    admin = make_person("platform_admin")
    outbox_id = _queue_reset_mail(ctx, make_person)
    with serving(Recorder(), tls_context=server_context(ca), require_starttls=True,
                 authenticator=lambda *_args: AuthResult(success=False, handled=False),
                 auth_require_tls=True) as server:
        _use_smtp(ctx, admin, server.port, "starttls", ca_file, username="gatehouse",
                  password=ACCENTED_PASSWORD)
        refused = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert refused.sent == 0 and refused.stopped is not None
    assert "other than ASCII" in refused.stopped and "Mot-de-passe" not in refused.stopped
    assert _row(ctx, outbox_id).status == "pending"


# ---- refused -------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "implicit"])
def test_server_offering_only_tls_1_1_is_refused(ctx, make_person, ca, ca_file, clock,
                                                 security) -> None:
    admin = make_person("platform_admin")
    outbox_id = _queue_reset_mail(ctx, make_person)
    handler = Recorder()
    tls11 = server_context(ca, tls11_only=True)
    server_kwargs: dict[str, Any] = (
        {"tls_context": tls11, "require_starttls": True} if security == "starttls"
        else {"ssl_context": tls11})
    with serving(handler, **server_kwargs) as server:
        # The server is sound and speaks TLS 1.1: a lenient client gets through.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if security == "starttls":
                with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as lenient:
                    lenient.starttls(context=permissive_client_context(ca_file))
                    assert isinstance(lenient.sock, ssl.SSLSocket)
                    assert lenient.sock.version() == "TLSv1.1"
            else:
                with smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=10,
                                      context=permissive_client_context(ca_file)) as lenient:
                    assert isinstance(lenient.sock, ssl.SSLSocket)
                    assert lenient.sock.version() == "TLSv1.1"
        # Gatehouse is not lenient.
        _use_smtp(ctx, admin, server.port, security, ca_file)
        report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert (report.sent, report.retrying) == (0, 1)
    # asyncio's TLS hangs up instead of sending a protocol_version alert: the message says
    # what that most likely means (the alert case is the next test).
    assert report.stopped is not None and "only TLS 1.1 or older" in report.stopped
    assert "Gatehouse refuses" in report.stopped
    assert handler.messages == [] and handler.commands == []
    row = _row(ctx, outbox_id)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error == report.stopped
    assert row.next_attempt_at == clock.now() + timedelta(seconds=60)


def test_protocol_version_alert_is_reported_as_such(ca, ca_file) -> None:
    """A blocking TLS 1.1-only server (OpenSSL sends the protocol_version alert)."""
    context = server_context(ca, tls11_only=True)
    server_said: list[str | None] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def serve() -> None:
            conn, _peer = listener.accept()
            with conn:
                try:
                    context.wrap_socket(conn, server_side=True).close()
                except ssl.SSLError as exc:
                    server_said.append(exc.reason)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        transport = SmtpTransport("127.0.0.1", listener.getsockname()[1], "implicit",
                                  ca_file=ca_file, timeout=10)
        with pytest.raises(DeliveryError, match=r"does not offer TLS 1\.2 or newer") as caught:
            transport.send(_message())
        thread.join(10)
    assert caught.value.connection and not caught.value.permanent
    assert server_said == ["UNSUPPORTED_PROTOCOL"]


def test_server_without_starttls_is_refused_nothing_sent_in_plaintext(ctx, make_person,
                                                                      ca_file) -> None:
    admin = make_person("platform_admin")
    outbox_id = _queue_reset_mail(ctx, make_person)
    handler = Recorder()
    with serving(handler) as server:  # no TLS at all
        _use_smtp(ctx, admin, server.port, "starttls", ca_file)
        report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert report.sent == 0 and "does not offer STARTTLS" in (report.stopped or "")
    assert handler.commands == [] and handler.messages == []
    row = _row(ctx, outbox_id)
    assert row.status == "pending" and "never sends mail unencrypted" in row.last_error


def test_certificate_from_an_unknown_authority_is_refused(ctx, make_person, ca_file) -> None:
    admin = make_person("platform_admin")
    outbox_id = _queue_reset_mail(ctx, make_person)
    stranger = trustme.CA()
    handler = Recorder()
    with serving(handler, tls_context=server_context(stranger),
                 require_starttls=True) as server:
        _use_smtp(ctx, admin, server.port, "starttls", ca_file)
        report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert report.sent == 0 and handler.messages == [] and handler.commands == []
    row = _row(ctx, outbox_id)
    assert row.status == "pending"
    assert "certificate" in row.last_error and "not accepted" in row.last_error


def test_certificate_for_another_host_is_refused(ca, ca_file) -> None:
    handler = Recorder()
    with serving(handler, ssl_context=server_context(ca, names=("mail.elsewhere.example",))
                 ) as server:
        transport = SmtpTransport("127.0.0.1", server.port, "implicit", ca_file=ca_file,
                                  timeout=10)
        with pytest.raises(DeliveryError, match="not accepted") as caught:
            transport.send(_message())
    assert caught.value.connection and "127.0.0.1" in str(caught.value)
    assert handler.messages == []


def test_plaintext_server_on_an_implicit_tls_setting_is_refused(ca_file) -> None:
    handler = Recorder()
    with serving(handler) as server:
        transport = SmtpTransport("127.0.0.1", server.port, "implicit", ca_file=ca_file,
                                  timeout=10)
        with pytest.raises(DeliveryError, match="did not answer with TLS"):
            transport.send(_message())
    assert handler.commands == []


def test_there_is_no_plaintext_mode(ca_file) -> None:
    for mode in ("none", "plain", "", "STARTTLS"):
        with pytest.raises(InvalidInput, match="never sends mail without TLS"):
            SmtpTransport("mail.example", 25, mode, ca_file=ca_file)
    context = SmtpTransport("mail.example", 587, ca_file=ca_file).context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


# ---- what the server says about the message ------------------------------------------------


def test_recipient_refused_permanently_is_not_retried(ctx, make_person, ca, ca_file) -> None:
    admin = make_person("platform_admin")
    gone = _queue_reset_mail(ctx, make_person, email="nobody@northwind.example")
    busy = _queue_reset_mail(ctx, make_person, email="later@northwind.example")
    fine = _queue_reset_mail(ctx, make_person, email="alex.morgan@northwind.example")
    handler = Recorder()
    with serving(handler, tls_context=server_context(ca), require_starttls=True) as server:
        _use_smtp(ctx, admin, server.port, "starttls", ca_file)
        report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert (report.sent, report.retrying, report.failed, report.stopped) == (1, 1, 1, None)
    assert (_row(ctx, gone).status, _row(ctx, gone).next_attempt_at) == ("failed", None)
    assert "550" in _row(ctx, gone).last_error
    assert _row(ctx, busy).status == "pending" and "451" in _row(ctx, busy).last_error
    assert _row(ctx, fine).status == "sent"
    assert [m.rcpt_tos for m in handler.messages] == [["alex.morgan@northwind.example"]]


def test_one_connection_carries_several_messages(ctx, make_person, ca, ca_file) -> None:
    admin = make_person("platform_admin")
    ids = [_queue_reset_mail(ctx, make_person, email=f"p{n}@northwind.example")
           for n in range(3)]
    handler = Recorder()
    with serving(handler, tls_context=server_context(ca), require_starttls=True) as server:
        _use_smtp(ctx, admin, server.port, "starttls", ca_file)
        report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert report.sent == 3
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
        f"p{n}@northwind.example" for n in range(3)]
    assert {_row(ctx, i).status for i in ids} == {"sent"}
