"""Migration progress month by month, per size band — the shape of the programme's cleansing
reports: in each calendar month (UTC), how many identities were migrated and how many set
their new password, and where each band stood at the month's end.

A person counts once, on the identity they kept (merged aliases are left out), as in
``services.migration.tracking``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.authz import Action, Operator, require
from services.context import Context
from services.migration.tracking import SIZE_ORDER
from services.store.schema import identity, migration_identity


@dataclass(frozen=True)
class MonthRow:
    month: str  # "YYYY-MM"
    size_band: str
    migrated: int  # migrated in this month
    completed: int  # set their new password in this month
    migrated_to_date: int  # by the month's end
    completed_to_date: int

    @property
    def completed_percent(self) -> float:
        if not self.migrated_to_date:
            return 0.0
        return round(100 * self.completed_to_date / self.migrated_to_date, 1)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "completed_percent": self.completed_percent}


def _month(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def _months(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def completion_by_month(ctx: Context, op: Operator) -> list[MonthRow]:
    """One row per size band and month, from the first migration to this month, with no gaps
    (a month with no change still shows where the band stood)."""
    require(op, Action.MIGRATION_READ)
    with ctx.store.read() as conn:
        rows = conn.execute(
            select(migration_identity.c.size_band, migration_identity.c.migrated_at,
                   identity.c.status, identity.c.password_changed_at)
            .join(identity, identity.c.subject == migration_identity.c.subject)
            .where(identity.c.status != "merged")).all()
    if not rows:
        return []
    migrated: dict[tuple[str, str], int] = {}
    completed: dict[tuple[str, str], int] = {}
    for band, migrated_at, status, changed_at in rows:
        key = (band, _month(migrated_at))
        migrated[key] = migrated.get(key, 0) + 1
        # A password set after the migration completes it; one set before (a linked account
        # that already had one) does not.
        if status == "active" and changed_at is not None and changed_at >= migrated_at:
            done = (band, _month(changed_at))
            completed[done] = completed.get(done, 0) + 1
    months = _months(min(m for _b, m in migrated), max(
        [_month(ctx.now()), *(m for _b, m in migrated), *(m for _b, m in completed)]))
    bands = sorted({b for b, _m in migrated}, key=lambda b: (SIZE_ORDER.get(b, 9), b))
    out: list[MonthRow] = []
    for band in bands:
        migrated_to_date = completed_to_date = 0
        for month in months:
            m, c = migrated.get((band, month), 0), completed.get((band, month), 0)
            migrated_to_date += m
            completed_to_date += c
            out.append(MonthRow(month, band, m, c, migrated_to_date, completed_to_date))
    return out
