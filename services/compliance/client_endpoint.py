"""The client test endpoint: point an API client or an old browser at it and learn whether
that client itself can reach a TLS 1.2-only service.

It listens with TLS 1.0 to 1.3 accepted (``@SECLEVEL=0``, every suite the local OpenSSL has), so
that old clients can connect at all, and records for each connection:

- what the client **offered** — its highest version and its cipher suites — read from the raw
  ClientHello bytes *before* they are handed to ``ssl`` (the bytes go through a ``MemoryBIO``,
  so nothing is lost and nothing is read twice);
- what was **negotiated** — version and suite — and the SNI name;
- for HTTP, the request's User-Agent, judged by :mod:`services.compliance.browsers`;

and answers with a short HTML page, or JSON when the request's ``Accept`` asks for it, saying
whether the client is compliant. A client whose versions this machine's OpenSSL cannot accept
(TLS 1.0/1.1 on a build without them, SSL 3.0 always) is still judged from its offer; the
record says the failed handshake is a local limitation, not the client's.

The endpoint runs on its own threads (``start``/``stop``) and calls ``on_client`` from them;
``stop`` closes the listening socket and every open connection and waits for the threads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from policies.tls_policy import TlsPolicy, load_tls_policy
from services.compliance.browsers import NON_COMPLIANT, ClientVerdict, judge_user_agent
from services.compliance.client_hello import (
    ClientHello,
    NeedMore,
    NotClientHello,
    parse_client_hello,
    version_name,
)
from services.errors import InvalidInput

T = TypeVar("T")
OnClient = Callable[["ClientRecord"], None]

# Versions the endpoint tries to accept; which of them this machine can is found at start.
ENDPOINT_VERSIONS: Final = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_TLS_VERSIONS: Final = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                        "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_MAX_REQUEST = 16 * 1024
_RECV = 16 * 1024
_WORKERS = 16


class ClientVerdictKind:
    """The endpoint's verdicts on a client (strings, as in the JSON)."""

    COMPLIANT: Final = "compliant"
    NO_TLS12: Final = "no_tls12"  # offered nothing the policy allows: locked out
    NO_POLICY_SUITE: Final = "no_policy_suite"  # TLS 1.2 only, none of the accepted suites
    NOT_TLS: Final = "not_tls"  # did not start a TLS handshake


@dataclass(frozen=True)
class ClientRecord:
    """One connection to the endpoint, as reported."""

    at: str  # ISO 8601 UTC
    peer: str
    offered: ClientHello | None
    negotiated_version: str  # "" when the handshake did not complete
    negotiated_cipher: str
    server_name: str
    handshake_detail: str  # a sentence
    local_limitation: bool  # the handshake failed because of this machine, not the client
    user_agent: str  # "" when the client sent no HTTP request
    ua_verdict: ClientVerdict | None
    verdict: str
    compliant: bool
    reasons: tuple[str, ...]
    request: str = ""  # "GET /path" when HTTP

    @property
    def highest_offered(self) -> str:
        return self.offered.highest_version_name if self.offered else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at, "peer": self.peer,
            "offered": self.offered.as_dict() if self.offered else None,
            "highest_offered": self.highest_offered,
            "negotiated_version": self.negotiated_version,
            "negotiated_cipher": self.negotiated_cipher, "server_name": self.server_name,
            "handshake_detail": self.handshake_detail,
            "local_limitation": self.local_limitation,
            "request": self.request, "user_agent": self.user_agent,
            "ua_verdict": self.ua_verdict.as_dict() if self.ua_verdict else None,
            "verdict": self.verdict, "compliant": self.compliant, "reasons": list(self.reasons),
        }


def judge_client(offered: ClientHello | None, ua_verdict: ClientVerdict | None,
                 policy: TlsPolicy) -> tuple[str, bool, tuple[str, ...]]:
    """(verdict, compliant, reasons) for what a client offered and the User-Agent it sent.

    The offer decides the TLS side: the client's behaviour, not its claimed identity. A
    User-Agent the policy refuses (IE 11, a browser below its floor) makes it non-compliant
    too; an uncertain or unknown one leaves the verdict to the offer."""
    if offered is None:
        return (ClientVerdictKind.NOT_TLS, False,
                ("The client did not start a TLS handshake; connect with https:// (or the "
                 "client's TLS option) to test it.",))
    highest = offered.highest_version_name
    allowed = [name for name in map(version_name, offered.offered_versions)
               if policy.protocol_allowed(name)]
    if not allowed:
        return (ClientVerdictKind.NO_TLS12, False,
                (f"The client offered at most {highest}; the service accepts only "
                 f"{', '.join(policy.allowed_protocols)}, so this client will be locked out. "
                 "Update it or turn TLS 1.2 on in its settings.",))
    reasons: list[str] = []
    verdict, compliant = ClientVerdictKind.COMPLIANT, True
    if "TLSv1.3" not in allowed:
        good = [s for s in offered.suite_names if s in policy.tls12_ciphers]
        if not good:
            verdict, compliant = ClientVerdictKind.NO_POLICY_SUITE, False
            reasons.append("The client offered TLS 1.2 but none of the accepted suites (ECDHE "
                           "with AES-GCM or ChaCha20-Poly1305); update its TLS library.")
    if compliant:
        reasons.append(f"The client offered {highest}"
                       + (" with an accepted suite." if "TLSv1.3" not in allowed else "."))
    if ua_verdict is not None:
        if ua_verdict.verdict in NON_COMPLIANT:
            verdict, compliant = ua_verdict.verdict.value, False
        reasons.append(f"User-Agent: {ua_verdict.reason}")
    return verdict, compliant, tuple(reasons)


# ---- certificates and contexts --------------------------------------------------------------


def _self_signed(host: str) -> tuple[bytes, bytes]:
    """A throwaway RSA 2048 certificate (PEM cert, PEM key): RSA, because the oldest clients
    know no ECDSA. Never written anywhere but a private temporary directory."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gatehouse client test")])
    now = dt.datetime.now(dt.UTC)
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host or "localhost")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _set_versions(ctx: ssl.SSLContext, low: ssl.TLSVersion, high: ssl.TLSVersion) -> None:
    with warnings.catch_warnings():  # TLS 1.0 is deprecated: accepting it is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version, ctx.maximum_version = low, high


def server_context(host: str, certfile: str | None = None,
                   keyfile: str | None = None) -> ssl.SSLContext:
    """TLS 1.0 to 1.3, every suite at security level 0, with the given or a throwaway cert."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _set_versions(ctx, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    ctx.options |= ssl.OP_NO_COMPRESSION
    if certfile:
        try:
            ctx.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            where = keyfile or "in the same file"
            raise InvalidInput(f"The certificate {certfile} (key {where}) could not be loaded "
                               f"({exc}); give a PEM certificate and its matching key.") from exc
        return ctx
    cert, key = _self_signed(host)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        (path / "cert.pem").write_bytes(cert)
        (path / "key.pem").touch(mode=0o600)
        (path / "key.pem").write_bytes(key)
        ctx.load_cert_chain(str(path / "cert.pem"), str(path / "key.pem"))
    return ctx


def _pump_memory(client: ssl.SSLObject, server: ssl.SSLObject, c_in: ssl.MemoryBIO,
                 c_out: ssl.MemoryBIO, s_in: ssl.MemoryBIO, s_out: ssl.MemoryBIO) -> bool:
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, side in (("client", client), ("server", server)):
            if done[name]:
                continue
            try:
                side.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return True
    return False


def local_versions(ctx: ssl.SSLContext) -> tuple[str, ...]:
    """The versions this machine can accept with ``ctx``: each tried in memory, so that a
    failed handshake can be told apart as the client's or this machine's."""
    found = []
    for name in ENDPOINT_VERSIONS:
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE
        try:
            _set_versions(client_ctx, _TLS_VERSIONS[name], _TLS_VERSIONS[name])
            client_ctx.set_ciphers("ALL:@SECLEVEL=0")
            c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
            client = client_ctx.wrap_bio(c_in, c_out)
            server = ctx.wrap_bio(s_in, s_out, server_side=True)
            if _pump_memory(client, server, c_in, c_out, s_in, s_out) and \
                    server.version() == name:
                found.append(name)
        except (ssl.SSLError, ValueError):
            continue
    return tuple(found)


# ---- one connection -------------------------------------------------------------------------


class _Closed(Exception):
    """The client hung up or went quiet."""


@dataclass
class _Connection:
    sock: socket.socket
    incoming: ssl.MemoryBIO = field(default_factory=ssl.MemoryBIO)
    outgoing: ssl.MemoryBIO = field(default_factory=ssl.MemoryBIO)

    def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def pump(self, step: Callable[[], T]) -> T:
        """Run an ``SSLObject`` step, moving bytes between it and the socket until it is done."""
        while True:
            try:
                result = step()
            except ssl.SSLWantReadError:
                self.flush()
                try:
                    chunk = self.sock.recv(_RECV)
                except (TimeoutError, OSError) as exc:
                    raise _Closed() from exc
                if not chunk:
                    raise _Closed() from None
                self.incoming.write(chunk)
                continue
            self.flush()
            return result


def _read_hello(sock: socket.socket) -> tuple[bytes, ClientHello | None, str]:
    """(the bytes read, the ClientHello or None, why there is none)."""
    data = b""
    while True:
        try:
            parsed = parse_client_hello(data)
        except NotClientHello as exc:
            return data, None, f"The client sent {exc}, not a TLS ClientHello."
        if not isinstance(parsed, NeedMore):
            return data, parsed, ""
        try:
            chunk = sock.recv(_RECV)
        except (TimeoutError, OSError):
            chunk = b""
        if not chunk:
            return data, None, "The client hung up before its ClientHello was complete."
        data += chunk


def _parse_request(raw: bytes) -> tuple[str, dict[str, str]] | None:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return f"{parts[0]} {parts[1]}", headers


def _wants_json(request: str, headers: dict[str, str]) -> bool:
    path = request.partition(" ")[2]
    return "application/json" in headers.get("accept", "") or path.split("?")[0].endswith(
        ".json")


def render_html(record: ClientRecord) -> str:
    """The page a browser sees: the verdict and what was seen, every value escaped."""
    e = html.escape
    colour = "#2b8a7e" if record.compliant else "#c0392b"
    word = "meets" if record.compliant else "does NOT meet"
    offered = record.offered
    rows = [("Highest version offered", record.highest_offered or "-"),
            ("Negotiated", f"{record.negotiated_version} {record.negotiated_cipher}".strip()
             or "-"),
            ("Server name (SNI)", record.server_name or "-"),
            ("User-Agent", record.user_agent or "-"),
            ("Suites offered", ", ".join(offered.suite_names) if offered else "-")]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    reasons = "".join(f"<li>{e(r)}</li>" for r in record.reasons)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Gatehouse client test</title><style>body{font-family:sans-serif;"
            "margin:2em}th{text-align:left;padding-right:1em;vertical-align:top}</style>"
            f"</head><body><h1 style=\"color:{colour}\">This client {word} the TLS 1.2 rule"
            f"</h1><p>Verdict: <strong>{e(record.verdict)}</strong></p><ul>{reasons}</ul>"
            f"<table>{table}</table></body></html>")


# ---- the endpoint ---------------------------------------------------------------------------


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"The address {text.strip()!r} must be written HOST:PORT, e.g. "
                           "127.0.0.1:8443 (port 0 picks a free one).")
    return host.strip("[]"), int(port)


class ClientEndpoint:
    """See the module docstring. Use as a context manager, or ``start()`` and ``stop()``."""

    def __init__(self, host: str, port: int, *, certfile: str | None = None,
                 keyfile: str | None = None, policy: TlsPolicy | None = None,
                 json_log: Path | None = None, on_client: OnClient | None = None,
                 timeout: float = 5.0, keep: int = 1000) -> None:
        self.host, self.requested_port = host, port
        self.policy = policy or load_tls_policy()
        self.json_log = json_log
        self.on_client = on_client
        self.timeout = timeout
        self._ctx = server_context(host, certfile, keyfile)
        self.local_versions = local_versions(self._ctx)
        self._records: deque[ClientRecord] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._published = threading.Condition(self._lock)
        self._served = 0
        self._live: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.port = 0

    # ---- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        try:
            listener = socket.create_server((self.host, self.requested_port), reuse_port=False)
        except socket.gaierror as exc:
            raise InvalidInput(f"The address {self.host!r} could not be resolved "
                               f"({exc.strerror}); give an IP address of this machine, e.g. "
                               "127.0.0.1.") from exc
        except OSError as exc:
            raise InvalidInput(f"Cannot listen on {self.host}:{self.requested_port} "
                               f"({exc.strerror}); choose another port, or an address of "
                               "this machine.") from exc
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._pool = ThreadPoolExecutor(max_workers=_WORKERS,
                                        thread_name_prefix="client-endpoint")
        self._thread = threading.Thread(target=self._accept, name="client-endpoint-accept",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, close open connections and wait for every thread."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            self._listener.close()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            live = list(self._live)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a handler blocked in recv()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> ClientEndpoint:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/"

    @property
    def records(self) -> list[ClientRecord]:
        with self._lock:
            return list(self._records)

    def wait_for(self, count: int | None, timeout: float | None) -> list[ClientRecord]:
        """The records once ``count`` clients have been served (``None``: until ``timeout``),
        or what there is when ``timeout`` (seconds; ``None``: no limit) runs out."""
        with self._published:
            self._published.wait_for(
                lambda: count is not None and self._served >= count, timeout)
            return list(self._records)

    def local_note(self) -> str:
        missing = [v for v in ENDPOINT_VERSIONS if v not in self.local_versions]
        if not missing:
            return ""
        return (f"This machine's OpenSSL cannot accept {', '.join(missing)}: clients that offer "
                "no more than that are judged from their ClientHello, and their failed "
                "handshake is reported as a local limitation.")

    # ---- serving ---------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None and self._pool is not None
        while not self._stopping.is_set():
            try:
                conn, address = self._listener.accept()
            except OSError:
                return  # the listening socket was closed by stop()
            with self._lock:
                self._live.add(conn)
            try:
                self._pool.submit(self._serve, conn, f"{address[0]}:{address[1]}")
            except RuntimeError:  # the pool is shutting down
                conn.close()
                return

    def _serve(self, conn: socket.socket, peer: str) -> None:
        try:
            conn.settimeout(self.timeout)
            record = self._handle(conn, peer)
        except Exception as exc:  # a client must never take the endpoint down
            record = self._record(peer, None, handshake_detail=f"The connection failed ({exc}).")
        finally:
            with self._lock:
                self._live.discard(conn)
            conn.close()
        if self._stopping.is_set() and record.offered is None:
            return  # stop() cut a connection that never said anything
        self._publish(record)

    def _handle(self, conn: socket.socket, peer: str) -> ClientRecord:
        data, hello, why = _read_hello(conn)
        if hello is None:
            return self._record(peer, None, handshake_detail=why)
        link = _Connection(conn)
        link.incoming.write(data)
        tls = self._ctx.wrap_bio(link.incoming, link.outgoing, server_side=True)
        try:
            link.pump(tls.do_handshake)
        except ssl.SSLError as exc:
            with contextlib.suppress(OSError):
                link.flush()  # the alert, so the client learns why
            return self._failed(peer, hello, exc.reason or str(exc))
        except _Closed:
            return self._failed(peer, hello, "the client hung up during the handshake")
        cipher = tls.cipher()
        version, suite = tls.version() or "", cipher[0] if cipher else ""
        request, headers = self._read_request(link, tls)
        ua = headers.get("user-agent", "")
        record = self._record(peer, hello, version=version, cipher=suite,
                              handshake_detail=f"Negotiated {version} with {suite}.",
                              user_agent=ua, request=request)
        if request:
            self._answer(link, tls, record, _wants_json(request, headers))
        return record

    def _read_request(self, link: _Connection,
                      tls: ssl.SSLObject) -> tuple[str, dict[str, str]]:
        raw = b""
        try:
            while b"\r\n\r\n" not in raw and len(raw) < _MAX_REQUEST:
                chunk = link.pump(lambda: tls.read(_RECV))
                if not chunk:
                    break
                raw += chunk
        except (_Closed, ssl.SSLError, OSError):
            pass  # not HTTP, or the client left: the TLS facts stand on their own
        parsed = _parse_request(raw) if raw else None
        return parsed if parsed else ("", {})

    def _answer(self, link: _Connection, tls: ssl.SSLObject, record: ClientRecord,
                as_json: bool) -> None:
        if as_json:
            body = json.dumps(record.as_dict(), ensure_ascii=False).encode()
            kind = "application/json"
        else:
            body = render_html(record).encode()
            kind = "text/html; charset=utf-8"
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n").encode()
        try:
            link.pump(lambda: tls.write(head + body))
            tls.unwrap()
            link.flush()
        except (_Closed, ssl.SSLError, OSError):
            pass  # the client did not wait for the answer: the record is kept all the same

    def _failed(self, peer: str, hello: ClientHello, reason: str) -> ClientRecord:
        highest = hello.highest_version_name
        local = not any(version_name(v) in self.local_versions for v in hello.offered_versions)
        if local:
            detail = (f"The handshake failed ({reason}): this machine's OpenSSL cannot accept "
                      f"{highest}, which is a local limitation, not the client's. The client is "
                      "judged from what it offered.")
        else:
            detail = f"The handshake failed ({reason})."
        return self._record(peer, hello, handshake_detail=detail, local_limitation=local)

    def _record(self, peer: str, hello: ClientHello | None, *, version: str = "",
                cipher: str = "", handshake_detail: str = "", local_limitation: bool = False,
                user_agent: str = "", request: str = "") -> ClientRecord:
        ua_verdict = judge_user_agent(user_agent, self.policy) if user_agent else None
        verdict, compliant, reasons = judge_client(hello, ua_verdict, self.policy)
        return ClientRecord(
            at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), peer=peer, offered=hello,
            negotiated_version=version, negotiated_cipher=cipher,
            server_name=hello.server_name if hello else "", handshake_detail=handshake_detail,
            local_limitation=local_limitation, user_agent=user_agent, ua_verdict=ua_verdict,
            verdict=verdict, compliant=compliant, reasons=reasons, request=request)

    def _publish(self, record: ClientRecord) -> None:
        with self._published:
            self._records.append(record)
            self._served += 1
            self._published.notify_all()
            if self.json_log is not None:
                with self.json_log.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(record.as_dict(), ensure_ascii=False) + "\n")
        if self.on_client is not None:
            self.on_client(record)
