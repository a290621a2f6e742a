"""Audit export for reviewers: CSV (formula-safe) or JSON Lines."""

from __future__ import annotations

from typing import TextIO

from services.audit import export_csv, export_jsonl, iter_events
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import InvalidInput


def export_audit(ctx: Context, op: Operator, fmt: str, out: TextIO) -> int:
    require(op, Action.AUDIT_READ)
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput(f"Cannot export as {fmt!r}; choose csv or jsonl.")
    with ctx.store.read() as conn:
        count = (export_csv if fmt == "csv" else export_jsonl)(iter_events(conn), out)
    with ctx.store.write() as conn:
        ctx.record(conn, op, "audit.export", "audit", fmt, reason=f"{count} events")
    return count
