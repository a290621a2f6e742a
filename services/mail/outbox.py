"""The outbox: every message Gatehouse sends is first a row here, written in the same
transaction as the change that causes it — the message exists if and only if the change
committed (a transactional outbox). ``services.mail.delivery`` sends the rows later.

The body may carry a reset code, so it is sealed by the vault (context ``outbox-body``); only
the subject line, the recipient and the delivery state are readable in the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import Conflict, InvalidInput, NotFound
from services.mail.templates import render
from services.store.schema import identity, outbox

BODY_CONTEXT = "outbox-body"
OUTBOX_STATUSES = ("pending", "sent", "failed")


def enqueue(ctx: Context, conn: Connection, *, kind: str, to_address: str,
            identity_subject: str | None, values: dict[str, str]) -> int:
    """Render the template ``kind`` and add the message to the outbox inside ``conn``.

    ``conn`` is the caller's open write transaction: if it rolls back, the message is gone
    too. ``to_address`` must be the address *stored* for the person (``identity.email``),
    never one somebody typed: case-mapping can turn a look-alike address into a real login ID
    (the Kelvin sign becomes ``k``), so mail that answers a typed address could reach someone
    else. When ``identity_subject`` is given this is enforced: the address must equal that
    identity's stored email. Returns the outbox id.
    """
    if not to_address or any(ch in to_address for ch in "\r\n\0,;") or "@" not in to_address:
        raise InvalidInput(f"{to_address!r} is not a single e-mail address; mail goes only to "
                           "an identity's stored address.")
    if identity_subject is not None:
        stored = conn.execute(select(identity.c.email).where(
            identity.c.subject == identity_subject)).scalar_one_or_none()
        if stored is None:
            raise NotFound(f"No identity has the subject id {identity_subject}.")
        if stored != to_address:
            raise InvalidInput("Mail for an identity goes only to its stored address, not to "
                               "an address typed or received; pass identity.email.")
    rendered = render(kind, values)
    now = ctx.now()
    result = conn.execute(insert(outbox).values(
        created_at=now, kind=kind, to_address=to_address, subject_line=rendered.subject,
        body_sealed=ctx.vault.encrypt(rendered.body.encode(), BODY_CONTEXT),
        identity_subject=identity_subject, status="pending", attempts=0, next_attempt_at=now,
        version=1,
    ))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


# A sealed body may instead hold the template's values, rendered when the mail is read: bulk
# work (a migration queues 100,000 notices) then stores ~200 bytes a message, not ~1.3 KB.
_VALUES_MARK = b"gatehouse-mail-values/1\n"
# Built once: ``json.dumps`` with options builds a new encoder per call, a tenth of a
# migration batch's preparation at 100,000 notices.
_VALUES_ENCODER = json.JSONEncoder(separators=(",", ":"))


def seal_values(ctx: Context, kind: str, values: dict[str, str]) -> str:
    """The sealed form of a message stored as ``kind`` and its values (see ``read_body``)."""
    payload = _VALUES_ENCODER.encode({"kind": kind, "values": values})
    return ctx.vault.encrypt(_VALUES_MARK + payload.encode(), BODY_CONTEXT)


def read_body(ctx: Context, body_sealed: str) -> str:
    plain = ctx.vault.decrypt(body_sealed, BODY_CONTEXT)
    if plain.startswith(_VALUES_MARK):
        stored = json.loads(plain[len(_VALUES_MARK):])
        return render(stored["kind"], stored["values"]).body
    return plain.decode()


@dataclass(frozen=True)
class OutboxItem:
    """An outbox row without its body."""

    id: int
    created_at: datetime
    kind: str
    to_address: str
    subject_line: str
    identity_subject: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    message_id: str | None
    version: int

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("created_at", "next_attempt_at", "sent_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data


_ITEM_COLUMNS = tuple(outbox.c[name] for name in OutboxItem.__dataclass_fields__)


def list_outbox(ctx: Context, op: Operator, *, status: str | None = None,
                limit: int | None = None) -> list[OutboxItem]:
    """Outbox rows, newest first, without bodies."""
    require(op, Action.MAIL_SEND)
    if status is not None and status not in OUTBOX_STATUSES:
        raise InvalidInput(f"There is no outbox status {status!r}; use one of "
                           f"{', '.join(OUTBOX_STATUSES)}.")
    query = select(*_ITEM_COLUMNS).order_by(outbox.c.id.desc())
    if status is not None:
        query = query.where(outbox.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    with ctx.store.read() as conn:
        return [OutboxItem(**row._mapping) for row in conn.execute(query).all()]


def requeue(ctx: Context, op: Operator, item_id: int, expected_version: int) -> OutboxItem:
    """Give a failed message a fresh set of attempts (after the cause was fixed)."""
    require(op, Action.MAIL_SEND)
    with ctx.store.write() as conn:
        row = conn.execute(select(*_ITEM_COLUMNS).where(outbox.c.id == item_id)).one_or_none()
        if row is None:
            raise NotFound(f"There is no outbox message {item_id}.")
        if row.status != "failed":
            raise InvalidInput(f"Outbox message {item_id} is {row.status}; only a failed "
                               "message can be sent again.")
        changed = conn.execute(update(outbox).where(and_(
            outbox.c.id == item_id, outbox.c.version == expected_version)).values(
            status="pending", attempts=0, next_attempt_at=ctx.now(),
            version=outbox.c.version + 1))
        if changed.rowcount != 1:
            raise Conflict(f"Outbox message {item_id}")
        ctx.record(conn, op, "mail.requeue", "outbox", str(item_id), change=Change(
            before={"status": "failed", "attempts": row.attempts},
            after={"status": "pending", "attempts": 0}))
        new = conn.execute(select(*_ITEM_COLUMNS).where(outbox.c.id == item_id)).one()
    return OutboxItem(**new._mapping)
