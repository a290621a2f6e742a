"""Server probes (issue 7, acceptance 2): real TLS servers on loopback, one per configuration of
the benchmark (TLS 1.0-only with a legacy-only suite, 1.0–1.2, 1.2-only, 1.2–1.3, 1.3-only),
the protocol matrix of each, the TLS 1.2 suites and the certificate checks; a dead port and an
unresolvable host are results, not crashes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from policies.tls_policy import TlsPolicy, load_tls_policy
from services.compliance.tls_probe import (
    ProtocolStatus,
    ServerReport,
    Status,
    build_client_hello,
    probe,
)
from services.errors import InvalidInput

NAME = "gatehouse.test"
TIMEOUT = 2.0
V = ssl.TLSVersion
ACC, REF = ProtocolStatus.ACCEPTED, ProtocolStatus.REFUSED


class TlsServer:
    """A TLS server on 127.0.0.1 that accepts connections one after another until stopped;
    with ``handler``, each connection is given to it instead of to ``ctx``."""

    def __init__(self, ctx: ssl.SSLContext | None,
                 handler: Callable[[socket.socket], None] | None = None) -> None:
        self.ctx = ctx
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.handshakes: list[str] = []  # negotiated versions, in order
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        assert self.ready.wait(TIMEOUT)

    def _serve(self) -> None:
        self.ready.set()
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # the listening socket was shut down
            with conn:
                conn.settimeout(TIMEOUT)
                try:
                    if self.handler is not None:
                        self.handler(conn)
                        continue
                    if self.ctx is None:
                        continue  # hang up at once
                    with self.ctx.wrap_socket(conn, server_side=True) as tls:
                        self.handshakes.append(tls.version() or "")
                except (ssl.SSLError, OSError):
                    pass  # refused, or a raw probe that hung up after the ServerHello

    def stop(self) -> None:
        self.stopping.set()
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self.sock.close()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


@dataclasses.dataclass
class Pki:
    ca: trustme.CA
    ca_file: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return Pki(ca, path)


def server_context(pki: Pki, low: ssl.TLSVersion, high: ssl.TLSVersion, *,
                   ciphers: str | None = None, name: str = NAME,
                   key_type: trustme.KeyType = trustme.KeyType.ECDSA,
                   not_after: dt.datetime | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # ssl.TLSVersion.TLSv1 is deprecated: we mean it
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version, ctx.maximum_version = low, high
    if ciphers:
        ctx.set_ciphers(ciphers)
    pki.ca.issue_cert(name, key_type=key_type, not_after=not_after).configure_cert(ctx)
    return ctx


@pytest.fixture
def serve(pki: Pki) -> Iterator[list[TlsServer]]:
    servers: list[TlsServer] = []
    yield servers
    for server in servers:
        server.stop()


def start(servers: list[TlsServer], ctx: ssl.SSLContext | None,
          handler: Callable[[socket.socket], None] | None = None) -> TlsServer:
    server = TlsServer(ctx, handler)
    servers.append(server)
    return server


def run(server: TlsServer, pki: Pki, *, ca_file: str | None = None,
        policy: TlsPolicy | None = None, timeout: float = TIMEOUT) -> ServerReport:
    return probe("127.0.0.1", server.port, timeout=timeout,
                 ca_file=ca_file or str(pki.ca_file), server_name=NAME, policy=policy)


def matrix(report: ServerReport) -> dict[str, ProtocolStatus]:
    return {r.protocol: r.status for r in report.protocols}


# (label, min, max, server ciphers, key type, expected matrix SSLv3…TLSv1.3, compliant)
CONFIGS = [
    ("TLS 1.0 only, legacy suite", V.TLSv1, V.TLSv1, "AES128-SHA:@SECLEVEL=0",
     trustme.KeyType.RSA, (REF, ACC, REF, REF, REF), False),
    ("TLS 1.0-1.2", V.TLSv1, V.TLSv1_2, "DEFAULT:@SECLEVEL=0", trustme.KeyType.ECDSA,
     (REF, ACC, ACC, ACC, REF), False),
    ("TLS 1.2 only", V.TLSv1_2, V.TLSv1_2, "ECDHE+AESGCM:ECDHE+CHACHA20", trustme.KeyType.ECDSA,
     (REF, REF, REF, ACC, REF), True),
    ("TLS 1.2-1.3", V.TLSv1_2, V.TLSv1_3, "ECDHE+AESGCM:ECDHE+CHACHA20", trustme.KeyType.RSA,
     (REF, REF, REF, ACC, ACC), True),
    ("TLS 1.3 only", V.TLSv1_3, V.TLSv1_3, None, trustme.KeyType.ECDSA,
     (REF, REF, REF, REF, ACC), True),
]


@pytest.mark.parametrize(("label", "low", "high", "ciphers", "key_type", "expected", "ok"),
                         CONFIGS, ids=[c[0] for c in CONFIGS])
def test_protocol_matrix(serve: list[TlsServer], pki: Pki, label: str, low: ssl.TLSVersion,
                         high: ssl.TLSVersion, ciphers: str | None,
                         key_type: trustme.KeyType, expected: tuple[ProtocolStatus, ...],
                         ok: bool) -> None:
    server = start(serve, server_context(pki, low, high, ciphers=ciphers, key_type=key_type))
    report = run(server, pki)
    assert report.status is Status.OK
    assert tuple(matrix(report).values()) == expected, report.as_dict()["protocols"]
    assert report.compliant is ok, report.findings
    for result in report.protocols:
        assert result.detail  # every cell says why
    # The certificate is fine in every configuration that can show it over TLS 1.2/1.3.
    if report.certificate is not None:
        assert report.certificate.passes, report.certificate.findings
        assert report.certificate.key_type == ("RSA" if key_type is trustme.KeyType.RSA
                                               else "ECDSA")


def test_tls10_only_server_with_legacy_suite(serve: list[TlsServer], pki: Pki) -> None:
    ctx = server_context(pki, V.TLSv1, V.TLSv1, ciphers="AES128-SHA:@SECLEVEL=0",
                         key_type=trustme.KeyType.RSA)
    report = run(start(serve, ctx), pki)
    tls10 = report.protocol("TLSv1")
    assert tls10.status is ACC and tls10.cipher == "AES128-SHA"
    # A TLS 1.1 hello is answered with TLS 1.0 (a downgrade), TLS 1.2 with an alert.
    assert "answered with TLSv1, not TLSv1.1" in report.protocol("TLSv1.1").detail
    assert report.protocol("TLSv1.2").status is REF
    assert report.certificate is None and report.tls12_ciphers == ()
    assert not report.compliant
    assert any("TLSv1, which the policy does not allow" in f for f in report.findings)
    assert any("none of the protocols the policy allows" in f for f in report.findings)
    assert report.as_dict()["protocols"]["TLSv1"]["status"] == "accepted"


def test_tls12_suites_against_policy(serve: list[TlsServer], pki: Pki) -> None:
    ctx = server_context(pki, V.TLSv1_2, V.TLSv1_2,
                         ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA")
    report = run(start(serve, ctx), pki)
    suites = {s.name: s.allowed for s in report.tls12_ciphers}
    assert suites == {"ECDHE-ECDSA-AES128-GCM-SHA256": True, "ECDHE-ECDSA-AES128-SHA": False}
    assert report.protocol("TLSv1.2").cipher == "ECDHE-ECDSA-AES128-GCM-SHA256"
    assert not report.compliant
    assert any("outside the policy: ECDHE-ECDSA-AES128-SHA" in f for f in report.findings)


def test_certificate_details_when_all_is_well(serve: list[TlsServer], pki: Pki) -> None:
    ctx = server_context(pki, V.TLSv1_2, V.TLSv1_3, ciphers="ECDHE+AESGCM",
                         key_type=trustme.KeyType.RSA)
    report = run(start(serve, ctx), pki)
    cert = report.certificate
    assert cert is not None
    assert cert.chain_valid and cert.hostname_match and cert.hostname == NAME
    assert (cert.key_type, cert.key_bits) == ("RSA", 2048)
    assert cert.signature_algorithm == "ecdsa-with-SHA256"  # signed by trustme's ECDSA CA
    assert cert.days_to_expiry > 30
    data = report.as_dict()
    assert data["compliant"] is True and data["certificate"]["passes"] is True


def test_certificate_for_another_name(serve: list[TlsServer], pki: Pki) -> None:
    ctx = server_context(pki, V.TLSv1_2, V.TLSv1_3, name="other.example")
    report = run(start(serve, ctx), pki)
    cert = report.certificate
    assert cert is not None and cert.chain_valid and not cert.hostname_match
    assert not report.compliant
    assert any("not valid for the name 'gatehouse.test'" in f for f in report.findings)


def test_untrusted_chain_is_a_finding_not_a_crash(serve: list[TlsServer], pki: Pki,
                                                  tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    server = start(serve, server_context(pki, V.TLSv1_2, V.TLSv1_3))
    report = run(server, pki, ca_file=str(other))
    cert = report.certificate
    assert cert is not None and not cert.chain_valid and cert.hostname_match
    assert "unable to get local issuer certificate" in cert.chain_detail
    assert report.protocol("TLSv1.3").status is ACC  # the handshake itself still worked
    assert not report.compliant


def test_certificate_expiring_soon(serve: list[TlsServer], pki: Pki) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=10, hours=1)
    report = run(start(serve, server_context(pki, V.TLSv1_2, V.TLSv1_3, not_after=soon)), pki)
    cert = report.certificate
    assert cert is not None and cert.days_to_expiry == 10
    assert any("expires in 10 days" in f and "at least 30" in f for f in report.findings)
    assert not report.compliant


def test_rsa_key_size_against_policy(serve: list[TlsServer], pki: Pki) -> None:
    ctx = server_context(pki, V.TLSv1_2, V.TLSv1_3, key_type=trustme.KeyType.RSA)
    strict = dataclasses.replace(load_tls_policy(), min_rsa_bits=3072)
    report = run(start(serve, ctx), pki, policy=strict)
    assert report.certificate is not None and report.certificate.key_bits == 2048
    assert any("RSA key has 2048 bits" in f and "at least 3072" in f for f in report.findings)
    assert not report.compliant


def test_dead_port_is_unreachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    report = probe("127.0.0.1", port, timeout=TIMEOUT)
    assert report.status is Status.UNREACHABLE and not report.compliant
    assert "refused the connection" in report.detail
    assert set(matrix(report).values()) == {ProtocolStatus.NOT_TESTED}
    assert report.as_dict()["status"] == "unreachable"


def test_unresolvable_host_is_unreachable() -> None:
    report = probe("no-such-host.invalid", 443, timeout=TIMEOUT)
    assert report.status is Status.UNREACHABLE
    assert "could not be resolved" in report.detail and "no-such-host.invalid" in report.detail
    assert report.findings == (report.detail,)


def test_local_error_is_not_refused(serve: list[TlsServer], pki: Pki,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssl, "HAS_TLSv1_3", False)
    ctx = server_context(pki, V.TLSv1_2, V.TLSv1_3, ciphers="ECDHE+AESGCM")
    report = run(start(serve, ctx), pki)
    assert report.protocol("TLSv1.3").status is ProtocolStatus.LOCAL_ERROR
    assert "cannot speak TLSv1.3" in report.protocol("TLSv1.3").detail
    assert report.protocol("TLSv1.2").status is ACC
    assert report.compliant  # an allowed protocol that could not be tried is no finding


def test_client_hello_bytes() -> None:
    hello = build_client_hello(0x0302, NAME)
    assert hello[:3] == b"\x16\x03\x02" and hello[5] == 0x01
    assert int.from_bytes(hello[3:5], "big") == len(hello) - 5
    assert hello[9:11] == b"\x03\x02"  # client_version
    assert NAME.encode() in hello  # SNI
    assert b"\x00\x0a" in hello  # DES-CBC3-SHA offered (0x000a)
    assert b"\x00\x2b" not in hello[-40:]  # no supported_versions extension
    assert NAME.encode() not in build_client_hello(0x0301, "127.0.0.1")


def _hand_written_server(versions: set[bytes]) -> Callable[[socket.socket], None]:
    """A "server" speaking only DES-CBC3-SHA (which this machine's OpenSSL lacks) in
    ``versions``: a ServerHello when the hello asks for one of them and offers that suite,
    a handshake_failure alert otherwise."""
    def handle(conn: socket.socket) -> None:
        header = conn.recv(5)
        hello = conn.recv(65536)
        if len(header) < 5 or len(hello) < 41:
            return
        client_version = hello[4:6]
        at = 38 + 1 + hello[38]
        count = int.from_bytes(hello[at:at + 2], "big")
        offered = {hello[i:i + 2] for i in range(at + 2, at + 2 + count, 2)}
        if client_version in versions and b"\x00\x0a" in offered:
            body = client_version + bytes(32) + b"\x00" + b"\x00\x0a" + b"\x00"
            message = b"\x02" + len(body).to_bytes(3, "big") + body
            conn.sendall(b"\x16" + client_version + len(message).to_bytes(2, "big") + message)
        else:
            conn.sendall(b"\x15\x03\x01\x00\x02\x02\x28")
    return handle


def test_sslv3_with_3des_is_detected_without_local_openssl(serve: list[TlsServer],
                                                           pki: Pki) -> None:
    report = run(start(serve, None, _hand_written_server({b"\x03\x00"})), pki)
    assert matrix(report) == {"SSLv3": ACC, "TLSv1": REF, "TLSv1.1": REF, "TLSv1.2": REF,
                              "TLSv1.3": REF}
    assert report.protocol("SSLv3").cipher == "DES-CBC3-SHA"
    assert "handshake_failure" in report.protocol("TLSv1").detail
    assert not report.compliant
    assert any("SSLv3, which the policy does not allow" in f for f in report.findings)


def test_tls12_with_only_3des_is_accepted_not_refused(serve: list[TlsServer],
                                                      pki: Pki) -> None:
    report = run(start(serve, None, _hand_written_server({b"\x03\x03"})), pki)
    assert matrix(report) == {"SSLv3": REF, "TLSv1": REF, "TLSv1.1": REF, "TLSv1.2": ACC,
                              "TLSv1.3": REF}
    assert report.protocol("TLSv1.2").cipher == "DES-CBC3-SHA"
    assert "cannot use" in report.protocol("TLSv1.2").detail
    assert [(c.name, c.allowed) for c in report.tls12_ciphers] == [("DES-CBC3-SHA", False)]
    assert not report.compliant
    assert any("outside the policy: DES-CBC3-SHA" in f for f in report.findings)
    assert any("certificate could not be read" in f for f in report.findings)


def test_server_that_hangs_up_refuses_everything(serve: list[TlsServer], pki: Pki) -> None:
    report = run(start(serve, None), pki)  # accepts, then closes at once
    assert report.status is Status.OK
    assert set(matrix(report).values()) == {REF}
    assert report.certificate is None and not report.compliant
    assert "closed the connection" in report.protocol("TLSv1").detail


def test_silent_server_is_refused_after_the_timeout(serve: list[TlsServer], pki: Pki) -> None:
    done = threading.Event()

    def say_nothing(conn: socket.socket) -> None:
        done.wait(TIMEOUT)  # later connections wait in the backlog, unanswered too

    report = run(start(serve, None, say_nothing), pki, timeout=0.2)
    done.set()
    assert report.status is Status.OK and set(matrix(report).values()) == {REF}
    assert "no ServerHello within 0.2 s" in report.protocol("SSLv3").detail
    assert "within 0.2 s" in report.protocol("TLSv1.3").detail


def test_malformed_input_is_refused_with_a_sentence() -> None:
    with pytest.raises(InvalidInput, match="port 70000"):
        probe("127.0.0.1", 70000)
    with pytest.raises(InvalidInput, match="not a valid host name"):
        probe("127.0.0.1", 443, server_name="a" * 70 + ".example")
    with pytest.raises(InvalidInput, match=r"CA file /no/such/ca\.pem does not exist"):
        probe("127.0.0.1", 443, ca_file="/no/such/ca.pem")


def test_report_as_dict_is_json(serve: list[TlsServer], pki: Pki) -> None:
    ctx = server_context(pki, V.TLSv1_2, V.TLSv1_3, ciphers="ECDHE+AESGCM")
    data = json.loads(json.dumps(run(start(serve, ctx), pki).as_dict()))
    assert data["status"] == "ok" and data["compliant"] is True
    assert list(data["protocols"]) == ["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert {c["name"] for c in data["tls12_ciphers"]} == {"ECDHE-ECDSA-AES128-GCM-SHA256",
                                                          "ECDHE-ECDSA-AES256-GCM-SHA384"}
    assert data["certificate"]["hostname_match"] is True and data["findings"] == []
    assert data["elapsed_seconds"] < 1.0


def _weak_rsa_leaf(pki: Pki, tmp_path: Path) -> tuple[Path, Path]:
    """A 1024-bit RSA leaf for NAME signed by the test CA (trustme only issues 2048)."""
    ca_key = serialization.load_pem_private_key(pki.ca.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert_pem.bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (on purpose)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, NAME)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "weak.pem", tmp_path / "weak.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_small_rsa_key_is_a_finding(serve: list[TlsServer], pki: Pki, tmp_path: Path) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = V.TLSv1_2
    ctx.set_ciphers("ECDHE+AESGCM:@SECLEVEL=0")  # lets this server load a 1024-bit key
    ctx.load_cert_chain(*_weak_rsa_leaf(pki, tmp_path))
    report = run(start(serve, ctx), pki)
    assert matrix(report)["TLSv1.2"] is ACC and matrix(report)["TLSv1.3"] is ACC
    cert = report.certificate
    assert cert is not None and (cert.key_type, cert.key_bits) == ("RSA", 1024)
    assert cert.chain_valid and cert.hostname_match
    assert cert.findings == ("The RSA key has 1024 bits; the policy asks for at least 2048.",)
    assert not report.compliant


# ---- check tls on the command line -----------------------------------------------------------


def _check_tls(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", "check", "tls", *args],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=120, check=False)


def test_check_tls_command_judges_several_targets(serve: list[TlsServer], pki: Pki,
                                                  tmp_path: Path) -> None:
    good = start(serve, server_context(pki, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3,
                                       ciphers="ECDHE+AESGCM"))  # Mozilla intermediate
    targets = tmp_path / "targets.txt"
    targets.write_text(f"# servers to check\n127.0.0.1:{good.port}\n")
    ok = _check_tls("--file", str(targets), "--ca", str(pki.ca_file), "--server-name", NAME,
                    "--timeout", "2", "--json")
    assert ok.returncode == 0, ok.stderr
    document = json.loads(ok.stdout)
    assert document["compliant"] is True
    assert document["targets"][0]["protocols"]["TLSv1.1"]["status"] == "refused"
    dead = _dead_port()
    mixed = _check_tls(f"127.0.0.1:{good.port}", f"127.0.0.1:{dead}", "--ca", str(pki.ca_file),
                       "--server-name", NAME, "--timeout", "2")
    assert mixed.returncode == 1, mixed.stderr
    assert "unreachable" in mixed.stdout and "compliant" in mixed.stdout
    bad = _check_tls("portal.example.com")
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
