"""Server probes over SMTP STARTTLS (issue 7: "direct TLS, and STARTTLS for SMTP at least"): a
loopback SMTP server started here speaks greeting, EHLO and STARTTLS before each handshake, so
every probe — the raw ClientHellos for SSL 3.0 to TLS 1.1 included — must go through the SMTP
dialogue first."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from services.compliance.tls_probe import ProtocolStatus, Status, probe, probe_many
from services.errors import InvalidInput

REPO = Path(__file__).resolve().parents[1]
NAME = "smtp.gatehouse.test"
TIMEOUT = 2.0
V = ssl.TLSVersion


class SmtpServer:
    """A minimal ESMTP server on 127.0.0.1: 220, EHLO → capabilities, STARTTLS → 220, then a
    TLS handshake with ``ctx``. ``offer`` False leaves STARTTLS out of the EHLO reply;
    ``refuse`` answers STARTTLS with 454."""

    def __init__(self, ctx: ssl.SSLContext, *, offer: bool = True, refuse: bool = False) -> None:
        self.ctx, self.offer, self.refuse = ctx, offer, refuse
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.sessions = 0
        self.handshakes: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(TIMEOUT)
                # refused, or a raw probe that hung up after the ServerHello
                with contextlib.suppress(OSError, ssl.SSLError):
                    self._session(conn)

    def _line(self, reader: socket.SocketIO) -> bytes:
        line = b""
        while not line.endswith(b"\r\n"):
            byte = reader.read(1)
            if not byte:
                raise ConnectionError("client left")
            line += byte
        return line

    def _session(self, conn: socket.socket) -> None:
        self.sessions += 1
        reader = socket.SocketIO(conn, "rb")
        conn.sendall(b"220 smtp.gatehouse.test ESMTP ready\r\n")
        assert self._line(reader).upper().startswith(b"EHLO ")
        caps = [b"smtp.gatehouse.test greets you", b"PIPELINING", b"SIZE 10240000"]
        if self.offer:
            caps.append(b"STARTTLS")
        caps.append(b"8BITMIME")
        conn.sendall(b"".join(b"250-" + c + b"\r\n" for c in caps[:-1])
                     + b"250 " + caps[-1] + b"\r\n")
        command = self._line(reader).upper()
        if command != b"STARTTLS\r\n" or self.refuse:
            conn.sendall(b"454 4.7.0 TLS not available due to temporary reason\r\n")
            return
        conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
        with self.ctx.wrap_socket(conn, server_side=True) as tls:
            self.handshakes.append(tls.version() or "")

    def stop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def context(ca: trustme.CA, low: ssl.TLSVersion, high: ssl.TLSVersion,
            ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # TLS 1.0 is deprecated: a legacy server is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version, ctx.maximum_version = low, high
    if ciphers:
        ctx.set_ciphers(ciphers)
    ca.issue_cert(NAME, key_type=trustme.KeyType.RSA).configure_cert(ctx)
    return ctx


@pytest.fixture
def servers() -> Iterator[list[SmtpServer]]:
    running: list[SmtpServer] = []
    yield running
    for server in running:
        server.stop()


def start(running: list[SmtpServer], ctx: ssl.SSLContext, **kwargs: bool) -> SmtpServer:
    server = SmtpServer(ctx, **kwargs)
    running.append(server)
    return server


def test_legacy_and_modern_versions_are_probed_after_starttls(
        servers: list[SmtpServer], ca: trustme.CA, ca_file: Path) -> None:
    server = start(servers, context(ca, V.TLSv1, V.TLSv1_2, "DEFAULT:@SECLEVEL=0"))
    report = probe("127.0.0.1", server.port, timeout=TIMEOUT, ca_file=str(ca_file),
                   server_name=NAME, starttls="smtp")
    assert report.status is Status.OK
    statuses = {r.protocol: r.status for r in report.protocols}
    acc, ref = ProtocolStatus.ACCEPTED, ProtocolStatus.REFUSED
    # TLS 1.0 and 1.1 are seen by raw ClientHellos sent after STARTTLS.
    assert statuses == {"SSLv3": ref, "TLSv1": acc, "TLSv1.1": acc, "TLSv1.2": acc,
                        "TLSv1.3": ref}
    assert not report.compliant
    assert any("TLSv1 " in f or "TLSv1," in f for f in report.findings)
    assert report.certificate is not None and report.certificate.chain_valid
    assert report.certificate.hostname_match
    # Every connection went through the SMTP dialogue: one session per probe, at least.
    assert server.sessions >= 6 and "TLSv1.2" in server.handshakes


def test_modern_smtp_server_is_compliant(servers: list[SmtpServer], ca: trustme.CA,
                                         ca_file: Path) -> None:
    server = start(servers, context(ca, V.TLSv1_2, V.TLSv1_3, "ECDHE+AESGCM:ECDHE+CHACHA20"))
    report = probe("127.0.0.1", server.port, timeout=TIMEOUT, ca_file=str(ca_file),
                   server_name=NAME, starttls="smtp")
    assert report.accepted_protocols() == ("TLSv1.2", "TLSv1.3")
    assert report.compliant, report.findings


def test_without_starttls_offered_is_a_result_not_a_crash(servers: list[SmtpServer],
                                                           ca: trustme.CA) -> None:
    server = start(servers, context(ca, V.TLSv1_2, V.TLSv1_3), offer=False)
    report = probe("127.0.0.1", server.port, timeout=TIMEOUT, server_name=NAME,
                   starttls="smtp")
    assert report.status is Status.NO_STARTTLS
    assert "does not offer STARTTLS" in report.detail
    assert not report.compliant
    assert all(r.status is ProtocolStatus.NOT_TESTED for r in report.protocols)


def test_starttls_refused_is_reported(servers: list[SmtpServer], ca: trustme.CA) -> None:
    server = start(servers, context(ca, V.TLSv1_2, V.TLSv1_3), refuse=True)
    report = probe("127.0.0.1", server.port, timeout=TIMEOUT, server_name=NAME,
                   starttls="smtp")
    assert report.status is Status.NO_STARTTLS
    assert "refused STARTTLS (code 454" in report.detail


def test_a_tls_server_is_not_mistaken_for_smtp(ca: trustme.CA) -> None:
    # A direct-TLS server says nothing first: the SMTP greeting never comes.
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        report = probe("127.0.0.1", listener.getsockname()[1], timeout=0.3, server_name=NAME,
                       starttls="smtp")
    finally:
        listener.close()
    assert report.status is Status.NO_STARTTLS
    assert "did not finish its SMTP reply" in report.detail


def test_unknown_starttls_protocol_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not supported"):
        probe("127.0.0.1", 25, starttls="imap")


def test_probe_many_keeps_order_reports_progress_and_honours_cancel(
        servers: list[SmtpServer], ca: trustme.CA) -> None:
    first = start(servers, context(ca, V.TLSv1_2, V.TLSv1_3))
    second = start(servers, context(ca, V.TLSv1_3, V.TLSv1_3))
    seen: list[tuple[int, int]] = []
    reports = probe_many([("127.0.0.1", first.port), ("127.0.0.1", second.port)],
                         timeout=TIMEOUT, server_name=NAME, starttls="smtp",
                         progress=lambda done, total: seen.append((done, total)))
    assert [r.port for r in reports] == [first.port, second.port]
    assert reports[1].accepted_protocols() == ("TLSv1.3",)
    assert seen[-1] == (2, 2)
    assert probe_many([("127.0.0.1", first.port)], cancel=lambda: True) == []


def test_check_tls_command_with_starttls(servers: list[SmtpServer], ca: trustme.CA,
                                         ca_file: Path) -> None:
    server = start(servers, context(ca, V.TLSv1, V.TLSv1_2, "DEFAULT:@SECLEVEL=0"))
    done = subprocess.run(
        [sys.executable, "main.py", "check", "tls", f"127.0.0.1:{server.port}", "--starttls",
         "smtp", "--server-name", NAME, "--ca", str(ca_file), "--json", "--timeout", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    [target] = json.loads(done.stdout)["targets"]
    assert target["protocols"]["TLSv1"]["status"] == "accepted"
    assert target["protocols"]["TLSv1.2"]["status"] == "accepted"
    bad = subprocess.run(
        [sys.executable, "main.py", "check", "tls", "127.0.0.1:25", "--starttls", "imap"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
