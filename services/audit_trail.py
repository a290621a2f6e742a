"""Reading and verifying the audit trail on screen: permission-checked, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.audit import Checkpoint, VerifyResult
from services.authz import Action, Operator, require
from services.context import Context
from services.store.schema import audit_event

MAX_RECENT = 5000


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    result: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    correlation_id: str


def recent_events(ctx: Context, op: Operator, *, limit: int = 500) -> list[AuditEntry]:
    """The latest ``limit`` events, newest first (platform admins and security reviewers)."""
    require(op, Action.AUDIT_READ)
    limit = max(1, min(limit, MAX_RECENT))
    columns = [audit_event.c[name] for name in (
        "seq", "at", "actor", "action", "target_type", "target_id", "result", "reason",
        "before", "after", "correlation_id")]
    with ctx.store.read() as conn:
        rows = conn.execute(select(*columns).order_by(audit_event.c.seq.desc()).limit(limit)
                            ).mappings().all()
    return [AuditEntry(**{**row, "before": json.loads(row["before"]),
                          "after": json.loads(row["after"])}) for row in rows]


def verify_trail(ctx: Context, op: Operator,
                 checkpoint: Checkpoint | None = None) -> VerifyResult:
    """Check the HMAC chain (see ``services.audit``); reading it needs the audit-read right."""
    require(op, Action.AUDIT_READ)
    with ctx.store.read() as conn:
        return ctx.audit.verify(conn, checkpoint)
