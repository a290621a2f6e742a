"""Servers: which TLS versions does ``host:port`` accept, and do its suites and certificate
meet ``policies/tls.toml``?

TLS 1.2 and 1.3 are probed with the ``ssl`` module and a full handshake (negotiated cipher, every
accepted TLS 1.2 suite, the certificate). SSL 3.0, TLS 1.0 and 1.1 are probed with a hand-built
ClientHello over a plain socket, reading the ServerHello version or the alert, so the verdict
never depends on the local OpenSSL (which refuses TLS 1.0/1.1 at its default security level and
cannot speak SSL 3.0 at all). TLS 1.2 suites the local OpenSSL lacks (3DES, RC4, single DES)
are looked for the same raw way, so a server that speaks TLS 1.2 only with 3DES is "accepted",
not "refused". Something this machine cannot do is reported as ``local_error``,
never as "the server refused"; DNS failures, refused connections and timeouts are results
(``unreachable``), not exceptions.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import socket
import ssl
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from policies.tls_policy import PROTOCOLS, TlsPolicy, load_tls_policy
from services.errors import InvalidInput

LEGACY_VERSIONS = {"SSLv3": 0x0300, "TLSv1": 0x0301, "TLSv1.1": 0x0302}
_MODERN_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_VERSION_NAMES = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2",
                  0x0304: "TLSv1.3"}

# A wide legacy offer (OpenSSL names), as old clients sent it: ECDHE/DHE/RSA with CBC, 3DES,
# RC4, Camellia, SEED and single DES, plus the renegotiation SCSV.
LEGACY_SUITES: dict[int, str] = {
    0xC014: "ECDHE-RSA-AES256-SHA", 0xC00A: "ECDHE-ECDSA-AES256-SHA",
    0xC013: "ECDHE-RSA-AES128-SHA", 0xC009: "ECDHE-ECDSA-AES128-SHA",
    0x0039: "DHE-RSA-AES256-SHA", 0x0038: "DHE-DSS-AES256-SHA",
    0x0033: "DHE-RSA-AES128-SHA", 0x0032: "DHE-DSS-AES128-SHA",
    0x0088: "DHE-RSA-CAMELLIA256-SHA", 0x0045: "DHE-RSA-CAMELLIA128-SHA",
    0x0035: "AES256-SHA", 0x002F: "AES128-SHA",
    0x0084: "CAMELLIA256-SHA", 0x0041: "CAMELLIA128-SHA", 0x0096: "SEED-SHA",
    0xC012: "ECDHE-RSA-DES-CBC3-SHA", 0xC008: "ECDHE-ECDSA-DES-CBC3-SHA",
    0x0016: "EDH-RSA-DES-CBC3-SHA", 0x0013: "EDH-DSS-DES-CBC3-SHA", 0x000A: "DES-CBC3-SHA",
    0xC011: "ECDHE-RSA-RC4-SHA", 0xC007: "ECDHE-ECDSA-RC4-SHA",
    0x0005: "RC4-SHA", 0x0004: "RC4-MD5",
    0x0015: "EDH-RSA-DES-CBC-SHA", 0x0009: "DES-CBC-SHA",
    0x0003: "EXP-RC4-MD5", 0x0008: "EXP-DES-CBC-SHA",
}
_SCSV_RENEGOTIATION = 0x00FF
_ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
           40: "handshake_failure", 47: "illegal_parameter", 50: "decode_error",
           70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
           86: "inappropriate_fallback", 112: "unrecognized_name"}
# OpenSSL reasons that arise on this machine before the server has any say.
_LOCAL_REASONS = frozenset({"NO_CIPHERS_AVAILABLE", "NO_PROTOCOLS_AVAILABLE",
                            "NO_SUITABLE_SIGNATURE_ALGORITHM"})
_MAX_SUITES = 64  # bound on the TLS 1.2 suite enumeration


class ProtocolStatus(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    LOCAL_ERROR = "local_error"  # this machine could not make the attempt: no verdict
    NOT_TESTED = "not_tested"  # the host could not be reached


class Status(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    NO_STARTTLS = "no_starttls"  # reached, but the server would not start TLS


@dataclass(frozen=True)
class ProtocolResult:
    protocol: str
    status: ProtocolStatus
    detail: str  # a sentence: why refused, what the local error was, or what was negotiated
    cipher: str = ""  # negotiated suite (OpenSSL name, or 0x.... when unknown)

    def as_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "status": self.status.value, "detail": self.detail,
                "cipher": self.cipher}


@dataclass(frozen=True)
class CipherResult:
    name: str
    allowed: bool  # in the policy's accepted TLS 1.2 list

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "allowed": self.allowed}


@dataclass(frozen=True)
class CertificateReport:
    subject: str
    issuer: str
    chain_valid: bool
    chain_detail: str
    hostname: str
    hostname_match: bool
    not_after: str  # ISO 8601, UTC
    days_to_expiry: int
    key_type: str  # RSA, ECDSA, Ed25519, Ed448, DSA
    key_bits: int
    signature_algorithm: str
    findings: tuple[str, ...]

    @property
    def passes(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "issuer": self.issuer, "chain_valid": self.chain_valid,
                "chain_detail": self.chain_detail, "hostname": self.hostname,
                "hostname_match": self.hostname_match, "not_after": self.not_after,
                "days_to_expiry": self.days_to_expiry, "key_type": self.key_type,
                "key_bits": self.key_bits, "signature_algorithm": self.signature_algorithm,
                "passes": self.passes, "findings": list(self.findings)}


@dataclass(frozen=True)
class ServerReport:
    host: str
    port: int
    server_name: str
    status: Status
    detail: str  # for unreachable: the sentence saying why
    protocols: tuple[ProtocolResult, ...] = ()
    tls12_ciphers: tuple[CipherResult, ...] = ()
    certificate: CertificateReport | None = None
    findings: tuple[str, ...] = ()
    policy: str = ""
    elapsed_seconds: float = 0.0
    compliant: bool = False  # only policy protocols, suites allowed, certificate passes

    def protocol(self, name: str) -> ProtocolResult:
        for result in self.protocols:
            if result.protocol == name:
                return result
        raise KeyError(name)

    def accepted_protocols(self) -> tuple[str, ...]:
        return tuple(r.protocol for r in self.protocols if r.status is ProtocolStatus.ACCEPTED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host, "port": self.port, "server_name": self.server_name,
            "status": self.status.value, "detail": self.detail, "compliant": self.compliant,
            "protocols": {r.protocol: r.as_dict() for r in self.protocols},
            "tls12_ciphers": [c.as_dict() for c in self.tls12_ciphers],
            "certificate": self.certificate.as_dict() if self.certificate else None,
            "findings": list(self.findings), "policy": self.policy,
            "elapsed_seconds": round(self.elapsed_seconds, 4),
        }


class _Unreachable(Exception):
    """The TCP connection could not be made; ``str`` is the sentence for the report."""


class _NoStartTls(_Unreachable):
    """The server answered but would not start TLS (no STARTTLS, or refused it)."""


STARTTLS_PROTOCOLS = ("smtp",)


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    server_name: str
    timeout: float
    starttls: str | None = None

    def connect(self) -> socket.socket:
        """A connected socket on which the next bytes sent are the TLS ClientHello."""
        sock = _connect(self.host, self.port, self.timeout)
        if self.starttls == "smtp":
            try:
                _smtp_starttls(sock, self)
            except BaseException:
                sock.close()
                raise
        return sock


def _smtp_reply(sock: socket.socket, target: _Target) -> tuple[int, list[str]]:
    """One SMTP reply (RFC 5321 4.2: lines ``NNN-text`` until ``NNN text``)."""
    data = b""
    lines: list[str] = []
    try:
        while True:
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    raise _NoStartTls(f"{target.host}:{target.port} closed the SMTP session "
                                      "before STARTTLS; check that it is an SMTP server.")
                data += chunk
                if len(data) > 65536:
                    raise _NoStartTls(f"{target.host}:{target.port} sent an SMTP reply "
                                      "longer than 64 KiB; it does not look like SMTP.")
            line, _, data = data.partition(b"\r\n")
            text = line.decode("utf-8", "replace")
            if len(text) < 3 or not text[:3].isdigit():
                raise _NoStartTls(f"{target.host}:{target.port} did not answer like an SMTP "
                                  f"server ({text[:60]!r}); check the port.")
            lines.append(text[4:])
            if len(text) == 3 or text[3] == " ":
                return int(text[:3]), lines
    except TimeoutError as exc:
        raise _NoStartTls(f"{target.host}:{target.port} did not finish its SMTP reply within "
                          f"{target.timeout:g} s; check that it is an SMTP server.") from exc
    except OSError as exc:
        raise _NoStartTls(f"{target.host}:{target.port} dropped the SMTP session "
                          f"({exc.strerror or exc}).") from exc


def _smtp_starttls(sock: socket.socket, target: _Target) -> None:
    """Greeting, EHLO, STARTTLS (RFC 3207); afterwards the socket is ready for TLS."""
    where = f"{target.host}:{target.port}"
    code, _ = _smtp_reply(sock, target)
    if code != 220:
        raise _NoStartTls(f"{where} greeted with SMTP code {code}, not 220; it is not "
                          "accepting mail sessions now.")
    sock.sendall(b"EHLO gatehouse.invalid\r\n")
    code, lines = _smtp_reply(sock, target)
    if code != 250:
        raise _NoStartTls(f"{where} refused EHLO (code {code}); check that it is an SMTP "
                          "server that speaks ESMTP.")
    if not any(line.upper().split(" ")[0] == "STARTTLS" for line in lines):
        raise _NoStartTls(f"{where} does not offer STARTTLS after EHLO, so mail to it is not "
                          "encrypted; turn TLS on in its SMTP service.")
    sock.sendall(b"STARTTLS\r\n")
    code, lines = _smtp_reply(sock, target)
    if code != 220:
        raise _NoStartTls(f"{where} refused STARTTLS (code {code}: {' '.join(lines)[:80]}).")


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _Unreachable(f"The host name {host!r} could not be resolved ({exc.strerror}); "
                           "check the spelling and the DNS.") from exc
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    if isinstance(last, TimeoutError):
        raise _Unreachable(f"{host}:{port} did not answer within {timeout:g} s; check the "
                           "address, the port and any firewall.")
    if isinstance(last, ConnectionRefusedError):
        raise _Unreachable(f"{host}:{port} refused the connection: nothing listens on that "
                           "port.")
    reason = last.strerror if last and last.strerror else str(last)
    raise _Unreachable(f"{host}:{port} could not be reached ({reason}).")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# --- Legacy versions: a hand-built ClientHello -------------------------------------------


def _extension(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def build_client_hello(version: int, server_name: str,
                       suites: list[int] | None = None) -> bytes:
    """One TLS record holding a ClientHello for ``version`` (0x0300…0x0303), offering ``suites``
    (default: the wide legacy list) and the renegotiation SCSV, with SNI (unless
    ``server_name`` is an IP address) and no supported_versions extension."""
    offer = [*(LEGACY_SUITES if suites is None else suites), _SCSV_RENEGOTIATION]
    extensions = b""
    if server_name and not _is_ip(server_name):
        name = server_name.encode("idna")
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        extensions += _extension(0x0000, struct.pack("!H", len(entry)) + entry)
    if version > 0x0300:
        groups = [0x0017, 0x0018, 0x0019, 0x001D]  # secp256r1/384r1/521r1, x25519
        extensions += _extension(0x000A, struct.pack(f"!H{len(groups)}H", 2 * len(groups),
                                                     *groups))
        extensions += _extension(0x000B, b"\x01\x00")  # ec_point_formats: uncompressed
    if version >= 0x0303:
        # signature_algorithms: RSA/ECDSA with SHA-256/384/512, RSA-PSS, then SHA-1.
        schemes = [0x0401, 0x0403, 0x0501, 0x0503, 0x0601, 0x0603, 0x0804, 0x0805, 0x0806,
                   0x0201, 0x0203]
        extensions += _extension(0x000D, struct.pack(f"!H{len(schemes)}H", 2 * len(schemes),
                                                     *schemes))
    body = (struct.pack("!H", version) + os.urandom(32) + b"\x00"
            + struct.pack(f"!H{len(offer)}H", 2 * len(offer), *offer) + b"\x01\x00")
    if extensions:
        body += struct.pack("!H", len(extensions)) + extensions
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 0x16, version, len(handshake)) + handshake


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


@dataclass(frozen=True)
class _Reply:
    version: int | None  # the ServerHello's server_version; None when there was none
    cipher: int | None  # the suite the ServerHello chose
    detail: str  # why there was no ServerHello


def _exchange(target: _Target, hello: bytes) -> _Reply:
    """Send a raw ClientHello and read the first record of the reply (then hang up)."""
    timeout = target.timeout
    with target.connect() as sock:
        try:
            sock.sendall(hello)
            header = _read_exactly(sock, 5)
            if len(header) < 5:
                return _Reply(None, None, "The server closed the connection without a "
                              "ServerHello.")
            kind, _, length = struct.unpack("!BHH", header)
            payload = _read_exactly(sock, min(length, 16384))
        except TimeoutError:
            return _Reply(None, None, f"The server sent no ServerHello within {timeout:g} s.")
        except OSError as exc:
            return _Reply(None, None, "The server closed the connection without a "
                          f"ServerHello ({exc.strerror or exc}).")
    if kind == 0x15 and len(payload) >= 2:
        alert = _ALERTS.get(payload[1], f"alert {payload[1]}")
        return _Reply(None, None, f"The server answered with the alert {alert}.")
    if kind != 0x16 or len(payload) < 6 or payload[0] != 0x02:
        return _Reply(None, None, "The server's reply is not a ServerHello.")
    version = struct.unpack("!H", payload[4:6])[0]
    cipher = None
    offset = 4 + 2 + 32
    if len(payload) > offset:
        at = offset + 1 + payload[offset]
        if len(payload) >= at + 2:
            cipher = struct.unpack("!H", payload[at:at + 2])[0]
    return _Reply(version, cipher, "")


def _suite_name(code: int | None) -> str:
    return "" if code is None else LEGACY_SUITES.get(code, f"0x{code:04x}")


def _legacy_probe(target: _Target, protocol: str) -> ProtocolResult:
    version = LEGACY_VERSIONS[protocol]
    reply = _exchange(target, build_client_hello(version, target.server_name))
    if reply.version is None:
        return ProtocolResult(protocol, ProtocolStatus.REFUSED, reply.detail)
    if reply.version != version:
        name = _VERSION_NAMES.get(reply.version, f"0x{reply.version:04x}")
        return ProtocolResult(protocol, ProtocolStatus.REFUSED,
                              f"The server answered with {name}, not {protocol}.")
    cipher = _suite_name(reply.cipher)
    return ProtocolResult(protocol, ProtocolStatus.ACCEPTED,
                          f"The server accepted {protocol}" + (f" with {cipher}." if cipher
                                                                 else "."), cipher)


@functools.cache
def _local_tls12_suites() -> frozenset[str]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return frozenset(str(c["name"]) for c in ctx.get_ciphers())


def _raw_tls12_suites(target: _Target, known: list[str]) -> list[str]:
    """TLS 1.2 suites of the legacy list that the local OpenSSL cannot offer (3DES, RC4,
    single DES, export…): offered by raw ClientHello, one server choice at a time."""
    local = _local_tls12_suites()
    offer = [code for code, name in LEGACY_SUITES.items()
             if name not in local and name not in known]
    found: list[str] = []
    while offer:
        reply = _exchange(target, build_client_hello(0x0303, target.server_name, offer))
        if reply.version != 0x0303 or reply.cipher not in offer:
            break
        offer.remove(reply.cipher)
        found.append(_suite_name(reply.cipher))
    return found


# --- TLS 1.2 and 1.3: the ssl module --------------------------------------------------------


def _context(protocol: str, *, verify: bool, ca_file: str | None,
             ciphers: str | None = None) -> ssl.SSLContext:
    version = _MODERN_VERSIONS[protocol]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = version
    ctx.maximum_version = version
    ctx.check_hostname = False
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if ca_file:
            ctx.load_verify_locations(cafile=ca_file)
        else:
            ctx.load_default_certs()
    else:
        ctx.verify_mode = ssl.CERT_NONE
    # Offer all the local OpenSSL has, at security level 0 (so that a small key or an old
    # signature is judged by the policy, not refused here): the server decides. The TLS 1.2
    # list does not touch TLS 1.3's suites; the security level applies to both.
    ctx.set_ciphers(ciphers or "ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return ctx


@dataclass
class _Handshake:
    ok: bool
    local: bool = False
    detail: str = ""
    cipher: str = ""
    der: bytes | None = None
    verify_message: str = ""


def _handshake(target: _Target, ctx: ssl.SSLContext) -> _Handshake:
    server_name, timeout = target.server_name, target.timeout
    sni = None if not server_name or _is_ip(server_name) else server_name
    with target.connect() as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                cipher = tls.cipher()
                return _Handshake(ok=True, cipher=cipher[0] if cipher else "",
                                  der=tls.getpeercert(binary_form=True))
        except ssl.SSLCertVerificationError as exc:
            return _Handshake(ok=False, detail=str(exc),
                              verify_message=exc.verify_message or str(exc))
        except ssl.SSLError as exc:
            reason = exc.reason or ""
            if reason in _LOCAL_REASONS:
                return _Handshake(ok=False, local=True,
                                  detail=f"This machine could not make the attempt ({reason}).")
            alert = f" ({reason})" if reason else ""
            return _Handshake(ok=False, detail=f"The handshake failed{alert}.")
        except TimeoutError:
            return _Handshake(ok=False, detail=f"No handshake reply within {timeout:g} s.")
        except OSError as exc:
            return _Handshake(ok=False, detail="The server dropped the connection "
                              f"({exc.strerror or exc}).")


def _modern_probe(target: _Target,
                  protocol: str) -> tuple[ProtocolResult, _Handshake | None]:
    try:
        ctx = _context(protocol, verify=False, ca_file=None)
    except (ssl.SSLError, ValueError) as exc:
        return ProtocolResult(protocol, ProtocolStatus.LOCAL_ERROR,
                              f"This machine cannot create a {protocol} context ({exc})."), None
    if protocol == "TLSv1.3" and not ssl.HAS_TLSv1_3:
        return ProtocolResult(protocol, ProtocolStatus.LOCAL_ERROR,
                              "This machine's OpenSSL cannot speak TLSv1.3."), None
    result = _handshake(target, ctx)
    if result.local:
        return ProtocolResult(protocol, ProtocolStatus.LOCAL_ERROR, result.detail), None
    if not result.ok:
        return ProtocolResult(protocol, ProtocolStatus.REFUSED, result.detail), None
    return (ProtocolResult(protocol, ProtocolStatus.ACCEPTED,
                           f"The server accepted {protocol} with {result.cipher}.",
                           result.cipher), result)


def _tls12_suites(target: _Target, first: str) -> list[str]:
    """Every TLS 1.2 suite the server accepts (of those the local OpenSSL knows): offer all,
    take the server's choice out of the offer, repeat until it refuses."""
    accepted = [first]
    while len(accepted) < _MAX_SUITES:
        spec = "ALL:COMPLEMENTOFALL:" + ":".join(f"!{s}" for s in accepted) + ":@SECLEVEL=0"
        try:
            ctx = _context("TLSv1.2", verify=False, ca_file=None, ciphers=spec)
        except ssl.SSLError:
            break  # nothing left to offer
        result = _handshake(target, ctx)
        if not result.ok or not result.cipher or result.cipher in accepted:
            break
        accepted.append(result.cipher)
    return accepted


# --- The certificate --------------------------------------------------------------------------


def _name_matches(pattern: str, hostname: str) -> bool:
    pattern, hostname = pattern.lower().rstrip("."), hostname.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = hostname.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == hostname


def _hostname_match(cert: x509.Certificate, hostname: str) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if _is_ip(hostname):
        address = ipaddress.ip_address(hostname)
        return san is not None and address in san.get_values_for_type(x509.IPAddress)
    if san is not None:
        names = san.get_values_for_type(x509.DNSName)
    else:  # no SAN: the common name, as old clients did
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(
            x509.NameOID.COMMON_NAME)]
    return any(_name_matches(name, hostname) for name in names)


def _key(cert: x509.Certificate) -> tuple[str, int]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, 0


def _signature_algorithm(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", "")
    return name if name and name != "Unknown OID" else oid.dotted_string


def inspect_certificate(der: bytes, *, hostname: str, chain_valid: bool, chain_detail: str,
                        policy: TlsPolicy, now: dt.datetime | None = None) -> CertificateReport:
    """Judge one leaf certificate (DER) against the policy's certificate rules."""
    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.UTC)
    not_after = cert.not_valid_after_utc
    days = (not_after - now).days
    key_type, bits = _key(cert)
    match = _hostname_match(cert, hostname) if hostname else False
    findings: list[str] = []
    if policy.require_valid_chain and not chain_valid:
        findings.append(f"The certificate chain is not valid: {chain_detail}")
    if policy.require_hostname_match and not match:
        findings.append(f"The certificate is not valid for the name {hostname!r}.")
    if days < 0:
        findings.append(f"The certificate expired on {not_after:%Y-%m-%d}.")
    elif days < policy.min_days_to_expiry:
        findings.append(f"The certificate expires in {days} days (on {not_after:%Y-%m-%d}); "
                        f"the policy asks for at least {policy.min_days_to_expiry}.")
    if key_type == "RSA" and bits < policy.min_rsa_bits:
        findings.append(f"The RSA key has {bits} bits; the policy asks for at least "
                        f"{policy.min_rsa_bits}.")
    elif key_type == "ECDSA" and bits < policy.min_ecdsa_bits:
        findings.append(f"The ECDSA key has {bits} bits; the policy asks for at least "
                        f"{policy.min_ecdsa_bits}.")
    elif key_type not in {"RSA", "ECDSA", "Ed25519", "Ed448"}:
        findings.append(f"The certificate key is {key_type}; the policy accepts RSA or ECDSA.")
    return CertificateReport(
        subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
        chain_valid=chain_valid, chain_detail=chain_detail, hostname=hostname,
        hostname_match=match, not_after=not_after.isoformat(), days_to_expiry=days,
        key_type=key_type, key_bits=bits, signature_algorithm=_signature_algorithm(cert),
        findings=tuple(findings))


def _check_chain(target: _Target, protocol: str, ca_file: str | None) -> tuple[bool, str]:
    try:
        ctx = _context(protocol, verify=True, ca_file=ca_file)
    except (OSError, ssl.SSLError) as exc:
        return False, f"the trust store could not be loaded ({exc})."
    result = _handshake(target, ctx)
    if result.ok:
        return True, "The chain verifies against " + (f"{ca_file}." if ca_file
                                                       else "the system trust store.")
    if result.verify_message:
        return False, f"{result.verify_message}."
    return False, f"the verifying handshake failed: {result.detail}"


# --- The probe --------------------------------------------------------------------------------


def probe(host: str, port: int, *, timeout: float = 5.0, ca_file: str | None = None,
          server_name: str | None = None, policy: TlsPolicy | None = None,
          starttls: str | None = None) -> ServerReport:
    """Probe one server for SSL 3.0 … TLS 1.3, its TLS 1.2 suites and its certificate.

    ``server_name`` (default: ``host``) is sent as SNI and checked against the certificate;
    ``ca_file`` replaces the system trust store. ``starttls="smtp"`` speaks SMTP (greeting,
    EHLO, STARTTLS) on every connection before its ClientHello, raw or not. Unreachable hosts
    give a report with status ``unreachable`` (``no_starttls`` when the server would not
    start TLS); only a malformed port or name, an unknown STARTTLS protocol or a missing CA
    file raises (:class:`InvalidInput`)."""
    started = time.perf_counter()
    policy = policy or load_tls_policy()
    name = (server_name or host).strip()
    if not 1 <= port <= 65535:
        raise InvalidInput(f"The port {port} is not valid; give a number from 1 to 65535.")
    if not name:
        raise InvalidInput("No host name was given; give one, e.g. mail.example.com:443.")
    if starttls is not None and starttls not in STARTTLS_PROTOCOLS:
        raise InvalidInput(f"STARTTLS for {starttls!r} is not supported; use one of "
                           f"{', '.join(STARTTLS_PROTOCOLS)}, or none for direct TLS.")
    if ca_file is not None and not os.path.isfile(ca_file):
        raise InvalidInput(f"The CA file {ca_file} does not exist; give the PEM file of the "
                           "certificate authority that issued the server's certificate.")
    if not _is_ip(name):
        try:
            name.encode("idna")
        except UnicodeError as exc:
            raise InvalidInput(f"The server name {name!r} is not a valid host name; check "
                               "the spelling.") from exc
    target = _Target(host, port, name, timeout, starttls)
    try:
        target.connect().close()
        protocols: list[ProtocolResult] = []
        handshakes: dict[str, _Handshake] = {}
        raw_only: list[str] = []
        for protocol in PROTOCOLS:
            if protocol in LEGACY_VERSIONS:
                protocols.append(_legacy_probe(target, protocol))
                continue
            result, handshake = _modern_probe(target, protocol)
            if handshake is not None:
                handshakes[protocol] = handshake
            elif protocol == "TLSv1.2" and result.status is ProtocolStatus.REFUSED:
                # Perhaps only with suites this machine's OpenSSL lacks (3DES, RC4): ask raw.
                raw_only = _raw_tls12_suites(target, [])
                if raw_only:
                    result = ProtocolResult(protocol, ProtocolStatus.ACCEPTED,
                                            f"The server accepted {protocol} with {raw_only[0]}, "
                                            "a suite this machine's OpenSSL cannot use (seen "
                                            "in a raw ClientHello).", raw_only[0])
            protocols.append(result)
        found: list[str] = []
        if "TLSv1.2" in handshakes:
            found = _tls12_suites(target, handshakes["TLSv1.2"].cipher)
            found += _raw_tls12_suites(target, found)
        elif raw_only:
            found = raw_only
        suites = [CipherResult(s, s in policy.tls12_ciphers) for s in found]
        certificate = None
        for protocol in ("TLSv1.3", "TLSv1.2"):
            handshake = handshakes.get(protocol)
            if handshake is not None and handshake.der:
                valid, detail = _check_chain(target, protocol, ca_file)
                certificate = inspect_certificate(handshake.der, hostname=name,
                                                  chain_valid=valid, chain_detail=detail,
                                                  policy=policy)
                break
    except _Unreachable as exc:
        status = Status.NO_STARTTLS if isinstance(exc, _NoStartTls) else Status.UNREACHABLE
        return ServerReport(host=host, port=port, server_name=name, status=status,
                            detail=str(exc), protocols=tuple(
                                ProtocolResult(p, ProtocolStatus.NOT_TESTED,
                                               "The server could not be reached over TLS.")
                                for p in PROTOCOLS),
                            findings=(str(exc),), policy=policy.name,
                            elapsed_seconds=time.perf_counter() - started)
    findings = _findings(protocols, suites, certificate, policy)
    return ServerReport(host=host, port=port, server_name=name, status=Status.OK,
                        detail="The server was probed.", protocols=tuple(protocols),
                        tls12_ciphers=tuple(suites), certificate=certificate,
                        findings=tuple(findings), policy=policy.name,
                        elapsed_seconds=time.perf_counter() - started,
                        compliant=not findings)


def _findings(protocols: list[ProtocolResult], suites: list[CipherResult],
              certificate: CertificateReport | None, policy: TlsPolicy) -> list[str]:
    findings: list[str] = []
    accepted = [r.protocol for r in protocols if r.status is ProtocolStatus.ACCEPTED]
    for protocol in accepted:
        if not policy.protocol_allowed(protocol):
            findings.append(f"The server accepts {protocol}, which the policy does not allow.")
    for r in protocols:
        if r.status is ProtocolStatus.LOCAL_ERROR and not policy.protocol_allowed(r.protocol):
            findings.append(f"{r.protocol} could not be tested from this machine, so it is not "
                            f"known to be refused: {r.detail}")
    if not any(policy.protocol_allowed(p) for p in accepted):
        findings.append("The server accepts none of the protocols the policy allows ("
                        f"{', '.join(policy.allowed_protocols)}).")
    bad = [s.name for s in suites if not s.allowed]
    if bad:
        findings.append(f"The server accepts TLS 1.2 suites outside the policy: {', '.join(bad)}.")
    if certificate is not None:
        findings.extend(certificate.findings)
    elif accepted:
        findings.append("The certificate could not be read over TLS 1.2 or 1.3.")
    return findings


def probe_many(targets: list[tuple[str, int]], *, workers: int = 16,
               progress: Callable[[int, int], None] | None = None,
               cancel: Callable[[], bool] | None = None,
               **options: Any) -> list[ServerReport]:
    """:func:`probe` each ``(host, port)`` concurrently (each waits on the network, each with
    its own timeout), in the order given; ``options`` are :func:`probe`'s. ``progress(done,
    total)`` after each target; once ``cancel()`` is true no further target is started and
    the reports so far are returned."""
    if not targets:
        return []
    # Bad input is refused before any work starts, as a sentence for the person.
    for host, port in targets:
        if not 1 <= port <= 65535:
            raise InvalidInput(f"The port {port} of {host} is not valid; give a number from 1 "
                               "to 65535.")
    results: dict[int, ServerReport] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets)))) as pool:
        pending = {}
        for index, (host, port) in enumerate(targets):
            pending[pool.submit(_probe_unless_cancelled, host, port, cancel, options)] = index
        for future in as_completed(pending):
            report = future.result()
            if report is not None:
                results[pending[future]] = report
            if progress:
                progress(len(results), len(targets))
    return [results[i] for i in sorted(results)]


def _probe_unless_cancelled(host: str, port: int, cancel: Callable[[], bool] | None,
                            options: dict[str, Any]) -> ServerReport | None:
    if cancel is not None and cancel():
        return None
    return probe(host, port, **options)
