"""Reading the ``DES ACCESS`` mailbox straight from its IMAP server, over TLS 1.2 or newer.

The same intake as a saved mailbox (``services.intake``), with the server and folder named in
the store's settings (``intake_imap_*``) and the password sealed there like the SMTP one.
Like the SMTP transport, there is no plaintext mode: ``implicit`` is TLS from the first byte
(usually port 993), ``starttls`` upgrades the connection before the password is sent (RFC
2595) and a server that does not offer it is refused; the certificate and host name are
always verified and a server that offers only TLS 1.1 or older is refused.

Reading changes nothing on the server: the folder is opened read-only (``EXAMINE``) and each
message fetched with ``BODY.PEEK[]``, so it stays unread for whoever else works the mailbox.
Each message's source is its RFC 5092 IMAP URL, ``imap://USER@HOST:PORT/FOLDER;UIDVALIDITY=V
/;UID=N``. UIDs only grow within one UIDVALIDITY, so the store keeps the highest UID read
(in the transaction that queues what was read): the next read fetches only what arrived
since, and what it skips is counted as already read. When the server renumbers the folder (a
new UIDVALIDITY) every message is read once more, and the queue's digest check flags the
copies as duplicates for review.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import ssl
from collections.abc import Generator
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import Connection, insert, select, update

from services.authz import Action, Operator, require
from services.context import Context
from services.errors import GatehouseError, InvalidInput
from services.intake import (
    Cancel,
    IntakeReport,
    MailSource,
    Progress,
    RawMessage,
    ingest_source,
    sources_under,
)
from services.mail.smtp import ACCEPTED_TLS, tls_context, tls_failure_kind
from services.settings import get_secret, read_values
from services.store.schema import store_meta

SECURITY_MODES = ("implicit", "starttls")


class MailboxUnavailable(GatehouseError):
    """The IMAP server could not be read: the sentence says why and what to change."""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str
    username: str
    folder: str
    ca_file: str
    timeout: float

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, uidvalidity: int) -> str:
        """The folder's RFC 5092 URL (without a password: it never appears anywhere)."""
        return (f"imap://{quote(self.username, safe='')}@{self.host}:{self.port}/"
                f"{quote(self.folder, safe='/')};UIDVALIDITY={uidvalidity}")


def read_settings(ctx: Context) -> tuple[ImapSettings, str]:
    """The configured mailbox and its password; ``InvalidInput`` naming what to set."""
    with ctx.store.read() as conn:
        values = read_values(conn)
    host = str(values["intake_imap_host"])
    username = str(values["intake_imap_username"])
    if not host or not username:
        raise InvalidInput(
            "No mailbox server is set: python main.py mail settings set intake_imap_host HOST "
            "and intake_imap_username USER, then intake_imap_password (from standard input).")
    password = get_secret(ctx, "intake_imap_password")
    if password is None:
        raise InvalidInput("intake_imap_username is set but no password is: set it with "
                           "python main.py mail settings set intake_imap_password (from "
                           "standard input).")
    port, timeout = values["intake_imap_port"], values["intake_imap_timeout_seconds"]
    assert isinstance(port, int) and isinstance(timeout, int)
    return ImapSettings(host, port, str(values["intake_imap_security"]), username,
                        str(values["intake_imap_folder"]), str(values["intake_imap_ca_file"]),
                        float(timeout)), password


def ingest_imap(ctx: Context, op: Operator, *, progress: Progress | None = None,
                cancel: Cancel | None = None) -> IntakeReport:
    """Queue the ``DES ACCESS`` requests in the configured IMAP folder that are not queued
    yet (``services.intake.ingest``'s rules, one transaction at the end)."""
    require(op, Action.INTAKE_REVIEW)
    settings, password = read_settings(ctx)
    imap = _connect(settings, password)
    try:
        source = _open_folder(ctx, imap, settings)
    except BaseException:
        _close(imap)
        raise
    return ingest_source(ctx, op, source, progress=progress, cancel=cancel)


# ---- the connection ------------------------------------------------------------------------


def _connect(settings: ImapSettings, password: str) -> imaplib.IMAP4:
    if settings.security not in SECURITY_MODES:
        raise InvalidInput(f"intake_imap_security must be 'implicit' or 'starttls', not "
                           f"{settings.security!r}: Gatehouse never reads mail without TLS.")
    context = tls_context(settings.ca_file or None, setting="intake_imap_ca_file")
    where = settings.where
    try:
        imap = _open(settings, context)
    except ssl.SSLCertVerificationError as exc:
        raise MailboxUnavailable(
            f"The certificate of the mailbox server {where} was not accepted "
            f"({exc.verify_message}); nothing was read. If your organisation uses its own "
            "certificate authority, set intake_imap_ca_file to its PEM file.") from None
    except ssl.SSLError as exc:
        raise MailboxUnavailable(_tls_failure(exc, where)) from None
    except (imaplib.IMAP4.error, OSError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise MailboxUnavailable(
            f"Cannot reach the mailbox server {where} ({detail}); check intake_imap_host, "
            "intake_imap_port and intake_imap_security, and that the server is running."
        ) from None
    try:
        imap.login(settings.username, password)
    except UnicodeEncodeError:
        _close(imap)
        raise MailboxUnavailable(
            "The mailbox user name or password holds characters other than ASCII, which IMAP "
            "sign-in (LOGIN) cannot carry; nothing was sent. Ask the mail administrator for "
            "an ASCII password, or an app password.") from None
    except imaplib.IMAP4.error:
        _close(imap)
        # The server's own words may echo what was sent: they are not repeated.
        raise MailboxUnavailable(
            f"The mailbox server {where} refused the user name or password; check "
            "intake_imap_username and set intake_imap_password again.") from None
    except (OSError, ssl.SSLError) as exc:
        _close(imap)
        raise MailboxUnavailable(f"The mailbox server {where} closed the connection while "
                                 f"signing in ({exc}); nothing was read.") from None
    return imap


def _open(settings: ImapSettings, context: ssl.SSLContext) -> imaplib.IMAP4:
    imap: imaplib.IMAP4
    if settings.security == "implicit":
        imap = imaplib.IMAP4_SSL(settings.host, settings.port, ssl_context=context,
                                 timeout=settings.timeout)
    else:
        imap = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
        try:
            if "STARTTLS" not in imap.capabilities:
                raise MailboxUnavailable(
                    f"The mailbox server {settings.where} does not offer STARTTLS, and "
                    "Gatehouse never sends a password unencrypted. Ask its administrator to "
                    "enable TLS, or use implicit TLS (intake_imap_security implicit, usually "
                    "port 993).")
            imap.starttls(ssl_context=context)
        except BaseException:
            _close(imap)
            raise
    sock = imap.sock
    version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
    if version not in ACCEPTED_TLS:  # belt and braces: the context already insists
        _close(imap)
        raise MailboxUnavailable(f"The connection to {settings.where} is not TLS 1.2 or newer "
                                 f"({version or 'no TLS'}); nothing was read.")
    return imap


def _tls_failure(exc: ssl.SSLError, where: str) -> str:
    kind = tls_failure_kind(exc)
    if kind in ("version", "hangup"):
        return (f"The mailbox server {where} did not agree on TLS 1.2 or newer: it most likely "
                "offers only TLS 1.1 or older, which Gatehouse refuses. Nothing was read or "
                "sent; ask the mail administrator to enable TLS 1.2 or 1.3.")
    if kind == "not_tls":
        return (f"The mailbox server {where} did not answer with TLS; check that "
                "intake_imap_security matches the port (implicit: usually 993, starttls: 143).")
    return (f"The TLS connection to the mailbox server {where} failed "
            f"({(exc.reason or str(exc)).lower().replace('_', ' ')}); nothing was read.")


def _close(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):  # ssl.SSLError is an OSError
        imap.logout()


# ---- the folder ----------------------------------------------------------------------------


def _open_folder(ctx: Context, imap: imaplib.IMAP4, settings: ImapSettings) -> MailSource:
    where = settings.where
    try:
        status, _data = imap.select(_quoted(settings.folder), readonly=True)  # EXAMINE
        if status != "OK":
            raise MailboxUnavailable(
                f"The mailbox server {where} has no folder {settings.folder!r} for this user; "
                "fix the intake_imap_folder setting (usually INBOX).")
        _name, found = imap.response("UIDVALIDITY")
        uidvalidity = int(found[0]) if found and found[0] else 0
        status, data = imap.uid("SEARCH", "ALL")
        if status != "OK":
            raise MailboxUnavailable(f"The mailbox server {where} could not list the folder "
                                     f"{settings.folder!r}; nothing was read.")
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxUnavailable(f"The mailbox server {where} stopped answering while opening "
                                 f"the folder ({exc}); nothing was read.") from None
    uids = [int(word) for word in (data[0] or b"").split()] if data else []
    url = settings.url(uidvalidity)
    prefix, key = f"{url}/;UID=", _progress_key(url)
    with ctx.store.read() as conn:
        stored = conn.execute(select(store_meta.c.value)
                              .where(store_meta.c.key == key)).scalar_one_or_none()
        queued = {int(source[len(prefix):]) for source in sources_under(conn, prefix)
                  if source[len(prefix):].isdigit()}
    read_up_to = int(stored) if stored and stored.isdigit() else 0
    fresh = [uid for uid in uids if uid > read_up_to and uid not in queued]
    highest = max(uids, default=read_up_to)

    def record(conn: Connection) -> None:
        if highest <= read_up_to:
            return
        if not conn.execute(update(store_meta).where(store_meta.c.key == key)
                            .values(value=str(highest))).rowcount:
            conn.execute(insert(store_meta).values(key=key, value=str(highest)))

    return MailSource("imap", url, len(fresh), _fetch(imap, prefix, fresh), prefix,
                      already_ingested=len(uids) - len(fresh), record=record)


def _progress_key(url: str) -> str:
    """The store_meta key holding the highest UID read from the folder at ``url``."""
    return "intake.imap." + hashlib.sha256(url.encode()).hexdigest()[:48]


def _fetch(imap: imaplib.IMAP4, prefix: str,
           uids: list[int]) -> Generator[RawMessage, None, None]:
    try:
        for uid in uids:
            source = f"{prefix}{uid}"
            try:
                status, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
            except (imaplib.IMAP4.error, OSError) as exc:
                yield RawMessage(source, None, f"the message could not be fetched ({exc})")
                continue
            body = next((part[1] for part in data or ()
                         if isinstance(part, tuple) and len(part) == 2), None)
            if status != "OK" or not isinstance(body, bytes):
                yield RawMessage(source, None, "the server sent no message for this UID "
                           f"({status})")
            else:
                yield RawMessage(source, body)
    finally:
        _close(imap)


def _quoted(folder: str) -> str:
    """An IMAP quoted string: folder names may hold spaces."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
