"""Delivering the outbox: each due message is claimed, sent, and only then marked sent.

Several desktops may deliver from one shared store at once. A message is claimed first, in a
short transaction of its own, by ``UPDATE … WHERE id = :id AND version = :v`` (optimistic
locking): of two deliverers that read the same row, exactly one claim succeeds and only that
one sends it. The claim also moves ``next_attempt_at`` a lease ahead, so a deliverer that
crashes mid-send leaves the row to be tried again later rather than stuck.

A message is marked ``sent`` only after the transport returned, i.e. the SMTP server accepted
it (or the .eml file was renamed into place). A failure counts an attempt, records the error
(never a secret: transports word their own errors) and schedules the next try with exponential
backoff; after ``mail_max_attempts`` attempts, or a permanent refusal, the message is
``failed`` and waits for a person (``outbox.requeue``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update

from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import InvalidInput
from services.mail.eml import EmlFolderTransport, default_outbox_folder
from services.mail.outbox import read_body
from services.mail.smtp import SmtpTransport
from services.mail.transport import DeliveryError, Transport
from services.settings import SettingValue, get_secret, read_values
from services.store.schema import outbox

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]  # e.g. threading.Event().is_set

CLAIM_LEASE = timedelta(minutes=15)
MAX_ERROR_TEXT = 1000


@dataclass(frozen=True)
class DueMessage:
    id: int
    version: int


@dataclass
class DeliveryReport:
    transport: str
    due: int = 0
    sent: int = 0
    retrying: int = 0  # failed this time, will be tried again
    failed: int = 0  # given up: needs a person
    skipped: int = 0  # claimed by another deliverer first
    cancelled: bool = False
    stopped: str | None = None  # why the run ended early (transport unusable)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.retrying or self.failed or self.stopped)

    def as_dict(self) -> dict[str, Any]:
        return {"transport": self.transport, "due": self.due, "sent": self.sent,
                "retrying": self.retrying, "failed": self.failed, "skipped": self.skipped,
                "cancelled": self.cancelled, "stopped": self.stopped, "errors": self.errors}


# ---- choosing the transport ----------------------------------------------------------------


def transport_from_settings(ctx: Context) -> Transport:
    """The transport the store's settings describe (``services.settings``)."""
    with ctx.store.read() as conn:
        values = read_values(conn)
    if values["mail_transport"] == "eml":
        folder = str(values["mail_outbox_folder"])
        return EmlFolderTransport(Path(folder) if folder else default_outbox_folder())
    username = str(values["smtp_username"]) or None
    password = get_secret(ctx, "smtp_password")
    if username and password is None:
        raise InvalidInput("smtp_username is set but no SMTP password is: set it with "
                           "python main.py mail settings set smtp_password (from stdin).")
    return SmtpTransport(
        str(values["smtp_host"]), _int(values["smtp_port"]), str(values["smtp_security"]),
        username=username, password=password, ca_file=str(values["smtp_ca_file"]) or None,
        timeout=float(_int(values["smtp_timeout_seconds"])))


def _int(value: SettingValue) -> int:
    assert isinstance(value, int)
    return value


# ---- building a message --------------------------------------------------------------------


def _sender_domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def message_id_for(ctx: Context, outbox_id: int, domain: str) -> str:
    """Stable per outbox row: if a retry follows a send whose acceptance was not recorded,
    the recipient's system sees the same Message-ID and can drop the copy."""
    store_tag = hashlib.sha256(ctx.store_id.encode()).hexdigest()[:12]
    return f"<gatehouse.{outbox_id}.{store_tag}@{domain}>"


def build_message(ctx: Context, row: Any, body: str, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = row.to_address
    message["Subject"] = row.subject_line
    message["Date"] = format_datetime(ctx.now())
    message["Message-ID"] = message_id_for(ctx, row.id, _sender_domain(mail_from))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(body)
    return message


def _build(ctx: Context, row: Any, body: str, mail_from: str) -> EmailMessage:
    try:
        return build_message(ctx, row, body, mail_from)
    except (ValueError, TypeError, IndexError) as exc:  # what the email package raises
        raise DeliveryError(f"Outbox message {row.id} could not be put together ({exc}); "
                            "check the mail_from setting.", connection=True) from None


# ---- delivering ----------------------------------------------------------------------------


def backoff(attempts: int, base_seconds: int, max_seconds: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: base, 2×base, 4×base, … capped at max."""
    exponent = min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(base_seconds * 2 ** exponent, max_seconds))


def due_messages(ctx: Context, *, limit: int | None = None) -> list[DueMessage]:
    """Pending messages whose time has come, oldest first, with the version read."""
    query = (select(outbox.c.id, outbox.c.version)
             .where(outbox.c.status == "pending",
                    or_(outbox.c.next_attempt_at.is_(None),
                        outbox.c.next_attempt_at <= ctx.now()))
             .order_by(outbox.c.next_attempt_at, outbox.c.id))
    if limit is not None:
        query = query.limit(limit)
    with ctx.store.read() as conn:
        return [DueMessage(row.id, row.version) for row in conn.execute(query).all()]


def deliver_pending(ctx: Context, op: Operator, transport: Transport, *,
                    limit: int | None = None, progress: Progress | None = None,
                    cancel: Cancel | None = None) -> DeliveryReport:
    """Send every due pending message through ``transport``; returns what happened."""
    require(op, Action.MAIL_SEND)
    report = DeliveryReport(transport.description)
    due = due_messages(ctx, limit=limit)
    report.due = len(due)
    with ctx.store.read() as conn:
        values = read_values(conn)
    if progress:
        progress(0, len(due))
    try:
        for done, item in enumerate(due, start=1):
            if cancel and cancel():
                report.cancelled = True
                break
            stop = deliver_one(ctx, transport, item, values, report)
            if progress:
                progress(done, len(due))
            if stop:
                break
    finally:
        transport.close()
    if report.sent or report.retrying or report.failed:
        with ctx.store.write() as conn:
            ctx.record(conn, op, "mail.deliver", "outbox", transport.description,
                       result="success" if report.ok else "failure",
                       reason=report.stopped or "", change=Change(after={
                           "sent": report.sent, "retrying": report.retrying,
                           "failed": report.failed, "skipped": report.skipped,
                           "cancelled": report.cancelled}))
    return report


def deliver_one(ctx: Context, transport: Transport, item: DueMessage,
                values: dict[str, SettingValue], report: DeliveryReport) -> bool:
    """Claim, send and record one message; True when the run should stop."""
    claimed_at = ctx.now()
    with ctx.store.write() as conn:
        claim = conn.execute(update(outbox).where(and_(
            outbox.c.id == item.id, outbox.c.version == item.version,
            outbox.c.status == "pending")).values(
            version=item.version + 1, attempts=outbox.c.attempts + 1,
            next_attempt_at=claimed_at + CLAIM_LEASE))
        if claim.rowcount != 1:
            report.skipped += 1  # another deliverer got there first
            return False
        row = conn.execute(select(outbox).where(outbox.c.id == item.id)).one()
    version = item.version + 1
    mail_from = str(values["mail_from"])
    # A body this computer cannot unseal (another store's key) is a local fault, not the
    # message's: it propagates, and the claimed row is tried again once its lease runs out.
    body = read_body(ctx, row.body_sealed)
    try:
        message = _build(ctx, row, body, mail_from)
        transport.send(message)
    except DeliveryError as exc:
        _record_failure(ctx, row.id, version, row.attempts, exc, values, report)
        if exc.connection:
            report.stopped = str(exc)
            return True
        return False
    with ctx.store.write() as conn:
        sent = {"status": "sent", "sent_at": ctx.now(), "message_id": message["Message-ID"],
                "last_error": None, "next_attempt_at": None, "version": version + 1}
        done = conn.execute(update(outbox).where(and_(
            outbox.c.id == row.id, outbox.c.version == version)).values(**sent))
        if done.rowcount != 1:
            # Our lease ran out mid-send and someone else claimed the row: it *was* accepted,
            # so record that rather than let it go out yet again.
            conn.execute(update(outbox).where(and_(
                outbox.c.id == row.id, outbox.c.status == "pending")).values(
                **{**sent, "version": outbox.c.version + 1}))
    report.sent += 1
    return False


def _record_failure(ctx: Context, outbox_id: int, version: int, attempts: int,
                    exc: DeliveryError, values: dict[str, SettingValue],
                    report: DeliveryReport) -> None:
    max_attempts = int(values["mail_max_attempts"])
    give_up = exc.permanent or attempts >= max_attempts
    now = ctx.now()
    retry_at: datetime | None = None if give_up else now + backoff(
        attempts, int(values["mail_retry_base_seconds"]), int(values["mail_retry_max_seconds"]))
    error = str(exc)[:MAX_ERROR_TEXT]
    with ctx.store.write() as conn:
        conn.execute(update(outbox).where(and_(
            outbox.c.id == outbox_id, outbox.c.version == version)).values(
            status="failed" if give_up else "pending", next_attempt_at=retry_at,
            last_error=error, version=version + 1))
    if give_up:
        report.failed += 1
    else:
        report.retrying += 1
    report.errors.append({"id": outbox_id, "attempts": attempts, "error": error,
                          "will_retry_at": retry_at.isoformat() if retry_at else None})
