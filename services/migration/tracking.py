"""Tracking a migration to completion: how far each run got, who has set a new password,
and reminders for those whose reset code expired.

The programme's cleansing reports track progress by organisation and shipper size; so does
this: per organisation and size band, how many migrated identities completed their reset (a
password was set, so the identity is ``active``), how many are pending (a code is still
valid), how many codes expired, and how many were migrated disabled. Merged aliases are not
counted: the person is counted once, on the identity they kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import InvalidInput
from services.store.schema import (
    identity,
    migration_batch,
    migration_identity,
    migration_run,
    organisation,
    reset_token,
)

REMINDER_KIND = "migration_reminder"
# Rate limit (per identity): a reminder only once the previous code expired, at most this
# often, and at most this many in all; after that the person's LSO or the service desk follows
# up by hand.
REMIND_INTERVAL = timedelta(days=7)
MAX_REMINDERS = 3
SIZE_ORDER = {"large": 0, "medium": 1, "small": 2}


def run_status(ctx: Context, op: Operator) -> list[dict[str, Any]]:
    """Every run in the store, newest first: batches done of total, identities, outcomes."""
    require(op, Action.MIGRATION_READ)
    with ctx.store.read() as conn:
        runs = conn.execute(select(migration_run).order_by(migration_run.c.started_at.desc())
                            ).all()
        batches = {r.plan_id: r for r in conn.execute(
            select(migration_batch.c.plan_id, func.count().label("done"),
                   func.sum(migration_batch.c.created).label("created"),
                   func.sum(migration_batch.c.linked).label("linked"),
                   func.sum(migration_batch.c.skipped).label("skipped"))
            .group_by(migration_batch.c.plan_id))}
        merged: dict[str, int] = dict(conn.execute(
            select(migration_identity.c.plan_id, func.count())
            .join(identity, identity.c.subject == migration_identity.c.subject)
            .where(identity.c.status == "merged").group_by(migration_identity.c.plan_id)
        ).all())
    out = []
    for run in runs:
        b = batches.get(run.plan_id)
        out.append({
            "plan_id": run.plan_id, "source": run.source_name, "status": run.status,
            "started_by": run.started_by, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "batches_done": int(b.done) if b else 0, "batches_total": run.total_batches,
            "identities_planned": run.total_identities,
            "outcomes": {"created": int(b.created or 0) if b else 0,
                         "linked": int(b.linked or 0) if b else 0,
                         "skipped": int(b.skipped or 0) if b else 0,
                         "merged_away": int(merged.get(run.plan_id, 0))}})
    return out


@dataclass
class ProgressRow:
    organisation: str
    size_band: str
    migrated: int = 0
    completed: int = 0  # set a new password: active
    pending: int = 0  # must still reset; the code is valid
    expired: int = 0  # must still reset; the code expired (or was used up elsewhere)
    disabled: int = 0  # migrated disabled or disabled since: nothing to do
    other: int = 0  # locked or deleted since

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def completion(ctx: Context, op: Operator) -> list[ProgressRow]:
    """Per organisation and size band: completed, pending, expired (and disabled)."""
    require(op, Action.MIGRATION_READ)
    now = ctx.now()
    with ctx.store.read() as conn:
        rows = conn.execute(
            select(organisation.c.code, migration_identity.c.size_band, identity.c.status,
                   reset_token.c.expires_at, reset_token.c.used_at, reset_token.c.revoked_at)
            .select_from(migration_identity)
            .join(identity, identity.c.subject == migration_identity.c.subject)
            .join(organisation, organisation.c.id == identity.c.organisation_id)
            .outerjoin(reset_token, reset_token.c.id == migration_identity.c.reset_token_id)
            .where(identity.c.status != "merged")).all()
    table: dict[tuple[str, str], ProgressRow] = {}
    for code, band, status, expires_at, used_at, revoked_at in rows:
        row = table.setdefault((code, band), ProgressRow(code, band))
        row.migrated += 1
        if status == "active":
            row.completed += 1
        elif status == "reset_required":
            usable = expires_at is not None and used_at is None and revoked_at is None \
                and expires_at > now
            if usable:
                row.pending += 1
            else:
                row.expired += 1
        elif status == "disabled":
            row.disabled += 1
        else:
            row.other += 1
    return sorted(table.values(), key=lambda r: (SIZE_ORDER.get(r.size_band, 9), r.organisation))


def totals(rows: list[ProgressRow]) -> dict[str, int]:
    keys = ("migrated", "completed", "pending", "expired", "disabled", "other")
    return {k: sum(getattr(r, k) for r in rows) for k in keys}


@dataclass
class RemindResult:
    reminded: int
    rate_limited: int  # expired, but reminded too recently or too often
    remaining_expired: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def remind(ctx: Context, op: Operator) -> RemindResult:
    """Re-issue expired migration reset codes and queue a reminder for each (rate-limited).

    Per identity, in one transaction: the old code is revoked, a new one issued, the reminder
    queued and ``migration_identity`` pointed at both — so there is never more than one
    outstanding migration code per identity, whatever happens mid-way.
    """
    require(op, Action.MIGRATION_RUN)
    import secrets

    from services.mail.outbox import enqueue
    from services.reset import TOKEN_BYTES, token_hash

    now = ctx.now()
    expiry = ctx.identity_policy.reset_expiry["migration"]
    reminded = limited = 0
    with ctx.store.write() as conn:
        due = conn.execute(
            select(migration_identity.c.subject, migration_identity.c.reminders,
                   migration_identity.c.last_reminded_at, migration_identity.c.version,
                   migration_identity.c.reset_token_id, identity.c.email,
                   identity.c.given_name, identity.c.login_id)
            .join(identity, identity.c.subject == migration_identity.c.subject)
            .outerjoin(reset_token, reset_token.c.id == migration_identity.c.reset_token_id)
            .where(and_(identity.c.status == "reset_required",
                        (reset_token.c.id.is_(None)) | (reset_token.c.expires_at <= now)
                        | reset_token.c.revoked_at.is_not(None)))
            .order_by(migration_identity.c.subject)).all()
        for row in due:
            if row.reminders >= MAX_REMINDERS or (
                    row.last_reminded_at is not None
                    and now - row.last_reminded_at < REMIND_INTERVAL):
                limited += 1
                continue
            _remind_one(ctx, conn, op, row, now, now + expiry, enqueue, token_hash,
                        secrets.token_urlsafe(TOKEN_BYTES))
            reminded += 1
    return RemindResult(reminded=reminded, rate_limited=limited,
                        remaining_expired=len(due) - reminded)


def _remind_one(ctx: Context, conn: Connection, op: Operator, row: Any, now: Any, expires: Any,
                enqueue: Any, token_hash: Any, token: str) -> None:
    from sqlalchemy import insert

    if row.reset_token_id is not None:
        conn.execute(update(reset_token).where(and_(
            reset_token.c.id == row.reset_token_id, reset_token.c.used_at.is_(None),
            reset_token.c.revoked_at.is_(None))).values(revoked_at=now))
    token_id = conn.execute(insert(reset_token).values(
        token_hash=token_hash(token), subject=row.subject, purpose="migration", created_at=now,
        expires_at=expires, created_by=op.login_id).returning(reset_token.c.id)).scalar_one()
    outbox_id = enqueue(ctx, conn, kind=REMINDER_KIND, to_address=row.email,
                        identity_subject=row.subject,
                        values={"given_name": row.given_name, "login_id": row.login_id,
                                "token": token,
                                "expires_at": expires.strftime("%Y-%m-%d %H:%M UTC")})
    changed = conn.execute(update(migration_identity).where(and_(
        migration_identity.c.subject == row.subject,
        migration_identity.c.version == row.version)).values(
        reset_token_id=token_id, notice_outbox_id=outbox_id, reminders=row.reminders + 1,
        last_reminded_at=now, version=migration_identity.c.version + 1)).rowcount
    if changed != 1:
        raise InvalidInput("Someone else sent reminders at the same time; run migrate remind "
                           "again to see what is left.")
    ctx.record(conn, op, "migration.remind", "identity", row.subject, change=Change(
        before={"reminders": row.reminders},
        after={"reminders": row.reminders + 1, "expires_at": expires.isoformat()}))
