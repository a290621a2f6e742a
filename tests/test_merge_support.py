"""Shared set-up for the merge tests (no tests here): people with roles, statuses and reset
links, and a snapshot of the store's identity state to compare before a merge and after its
unmerge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from services.authz import SYSTEM, Operator
from services.clock import ManualClock
from services.context import Context
from services.orgs import add_org
from services.password_hash import hash_password
from services.setup import ensure_company
from services.store.schema import entitlement, identity, organisation
from services.users import add_identity


def org(ctx: Context, code: str) -> None:
    ensure_company(ctx)
    with ctx.store.read() as conn:
        known = conn.execute(select(organisation.c.id).where(organisation.c.code == code)).first()
    if known is None:
        add_org(ctx, SYSTEM, code, f"Organisation {code}", "shipper")


def person(ctx: Context, email: str, roles: Sequence[str] = (), *, org_code: str = "NWGS",
           given: str = "Alex", family: str = "Morgan", password: str | None = None,
           clock: ManualClock | None = None) -> str:
    """Add an identity and return its subject; the clock moves on so grant times differ."""
    org(ctx, org_code)
    detail = add_identity(ctx, SYSTEM, email, given, family, org_code, list(roles),
                          password_hash=hash_password(password) if password else None)
    if clock is not None:
        clock.advance(timedelta(minutes=7))
    return detail.subject


def set_status(ctx: Context, subject: str, status: str) -> None:
    with ctx.store.write() as conn:
        conn.execute(update(identity).where(identity.c.subject == subject).values(
            status=status, version=identity.c.version + 1))


def state(ctx: Context, subjects: Sequence[str]) -> dict[str, Any]:
    """Everything a merge may touch, per subject, without version and updated_at."""
    with ctx.store.read() as conn:
        rows = conn.execute(select(identity).where(identity.c.subject.in_(list(subjects)))
                            ).mappings().all()
        ents = conn.execute(select(entitlement).where(entitlement.c.subject.in_(list(subjects)))
                            .order_by(entitlement.c.subject, entitlement.c.product_id,
                                      entitlement.c.role)).mappings().all()
    found: dict[str, Any] = {}
    for row in rows:
        values = {k: v for k, v in row.items() if k not in ("version", "updated_at")}
        values["entitlements"] = [(e["product_id"], e["role"], e["granted_at"])
                                  for e in ents if e["subject"] == row["subject"]]
        found[row["subject"]] = values
    return found


def versions(ctx: Context, subjects: Sequence[str]) -> dict[str, int]:
    with ctx.store.read() as conn:
        return {r.subject: r.version for r in conn.execute(
            select(identity.c.subject, identity.c.version)
            .where(identity.c.subject.in_(list(subjects))))}


def admin(make_person: Any) -> Operator:
    """A platform admin signed in with a second factor (merging is a change that needs one)."""
    op: Operator = make_person("platform_admin")
    return replace(op, mfa_verified=True)
