"""A small IMAP4rev1 server on a loopback port, in threads, for the intake tests.

It speaks the part of RFC 3501 a read-only client needs — CAPABILITY, STARTTLS, LOGIN,
SELECT/EXAMINE, UID SEARCH ALL, UID FETCH of BODY[] or BODY.PEEK[], LOGOUT — over implicit
TLS or STARTTLS, and records what the client did: whether it signed in inside TLS, which TLS
version it got, whether it opened the folder read-only and whether any fetch would have set
the \\Seen flag. No library on PyPI offers a maintained IMAP server to test against; the
client under test is the standard library's ``imaplib``, unchanged.
"""

from __future__ import annotations

import re
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


@dataclass
class Mailbox:
    """One user's folders (name → messages in UID order, UIDs from 1) and what happened."""

    username: str
    password: str
    folders: dict[str, list[bytes]]
    uidvalidity: int = 7001
    logins: list[tuple[bool, str | None]] = field(default_factory=list)  # (ok, TLS version)
    opened: list[str] = field(default_factory=list)  # "EXAMINE INBOX", "SELECT INBOX"
    fetched: list[tuple[int, str]] = field(default_factory=list)  # (uid, item asked for)
    handshake_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def marked_seen(self) -> bool:
        """Whether the client did anything that sets \\Seen (a SELECT and a non-PEEK fetch)."""
        return any(not item.startswith("BODY.PEEK") for _uid, item in self.fetched) and any(
            opened.startswith("SELECT") for opened in self.opened)


def _words(text: str) -> list[str]:
    return [quoted.replace('\\"', '"').replace("\\\\", "\\") if quoted is not None else bare
            for quoted, bare in ((m.group(1), m.group(2)) for m in _QUOTED.finditer(text))]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.tls: ssl.SSLSocket | None = None
        if self.server.mode == "implicit":
            try:
                self.request = self.server.context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                self.server.box.handshake_errors.append(str(exc))
                raise
            self.tls = self.request
        super().setup()

    def handle(self) -> None:
        box = self.server.box
        self._send("* OK [CAPABILITY IMAP4rev1] loopback IMAP ready")
        folder: str | None = None
        signed_in = False
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            tag, _, rest = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "CAPABILITY":
                extra = " STARTTLS" if self.server.mode == "starttls" and not self.tls else ""
                self._send(f"* CAPABILITY IMAP4rev1{extra} AUTH=PLAIN")
                self._send(f"{tag} OK CAPABILITY completed")
            elif command == "STARTTLS" and self.server.mode == "starttls" and not self.tls:
                self._send(f"{tag} OK Begin TLS negotiation now")
                try:
                    self.tls = self.server.context.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    box.handshake_errors.append(str(exc))
                    return
                self.request = self.tls
                self.rfile = self.tls.makefile("rb")
                self.wfile = self.tls.makefile("wb")
            elif command == "LOGIN":
                words = _words(args)
                ok = words == [box.username, box.password]
                with box.lock:
                    box.logins.append((ok, self.tls.version() if self.tls else None))
                signed_in = ok
                self._send(f"{tag} OK LOGIN completed" if ok
                           else f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            elif command in ("SELECT", "EXAMINE") and signed_in:
                name = (_words(args) or [""])[0]
                if name not in box.folders:
                    self._send(f"{tag} NO [NONEXISTENT] No such mailbox")
                    continue
                folder = name
                with box.lock:
                    box.opened.append(f"{command} {name}")
                self._send(f"* {len(box.folders[name])} EXISTS")
                self._send("* 0 RECENT")
                self._send(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid")
                self._send("* FLAGS (\\Seen \\Answered)")
                mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
                self._send(f"{tag} OK [{mode}] {command} completed")
            elif command == "UID" and folder is not None:
                self._uid(tag, args, box.folders[folder])
            elif command == "LOGOUT":
                self._send("* BYE loopback IMAP logging out")
                self._send(f"{tag} OK LOGOUT completed")
                return
            else:
                self._send(f"{tag} BAD command not understood here")

    def _uid(self, tag: str, args: str, messages: list[bytes]) -> None:
        sub, _, rest = args.partition(" ")
        if sub.upper() == "SEARCH":
            self._send("* SEARCH " + " ".join(str(n) for n in range(1, len(messages) + 1)))
            self._send(f"{tag} OK SEARCH completed")
            return
        if sub.upper() != "FETCH":
            self._send(f"{tag} BAD only UID SEARCH and UID FETCH here")
            return
        uid_text, _, item = rest.partition(" ")
        item = item.strip("()").upper()
        uid = int(uid_text)
        with self.server.box.lock:
            self.server.box.fetched.append((uid, item))
        if 1 <= uid <= len(messages):
            data = messages[uid - 1]
            self.wfile.write(f"* {uid} FETCH (UID {uid} BODY[] {{{len(data)}}}\r\n".encode()
                             + data + b")\r\n")
        self._send(f"{tag} OK FETCH completed")

    def _send(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, box: Mailbox, mode: str, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.box, self.mode, self.context = box, mode, context

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a refused handshake is what some tests are about; it is recorded on the box


@contextmanager
def serving(box: Mailbox, mode: str, context: ssl.SSLContext) -> Iterator[int]:
    """Serve ``box`` over ``mode`` ("implicit" or "starttls"); yields the port."""
    server = _Server(box, mode, context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def plaintext_greeting_server() -> tuple[socket.socket, threading.Thread]:
    """A listener that greets in plaintext and offers no STARTTLS: for the refusal test."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _peer = listener.accept()
        with conn:
            conn.sendall(b"* OK IMAP4rev1 plaintext only\r\n")
            reader = conn.makefile("rb")
            while line := reader.readline():
                tag = line.split(b" ", 1)[0]
                if b"CAPABILITY" in line.upper():
                    conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag
                                 + b" OK done\r\n")
                elif b"LOGOUT" in line.upper():
                    conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                    return
                else:
                    conn.sendall(tag + b" BAD no\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread
