"""Demo data: the same seed gives the same organisations, people, subject ids and roles in any
store; the first run creates one account per tool role that can sign in with the password shown
once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from services.auth import sign_in
from services.authz import SYSTEM, Role
from services.clock import ManualClock
from services.context import Context, open_context
from services.demo import DEMO_ORGS, first_run, seed
from services.setup import ensure_company
from services.store.schema import entitlement, identity, organisation, product


def people(ctx: Context) -> list[tuple[Any, ...]]:
    with ctx.store.read() as conn:
        rows = conn.execute(
            select(identity.c.subject, identity.c.login_id, identity.c.email,
                   identity.c.given_name, identity.c.family_name, organisation.c.code,
                   identity.c.status)
            .join(organisation).order_by(identity.c.subject)).all()
        grants = conn.execute(select(entitlement.c.subject, product.c.code, entitlement.c.role)
                              .join(product).order_by(entitlement.c.subject, product.c.code,
                                                      entitlement.c.role)).all()
    return [tuple(r) for r in rows] + [tuple(g) for g in grants]


def test_the_same_seed_gives_the_same_people_in_two_stores(
        ctx: Context, another_store_url: Callable[[], str], clock: ManualClock) -> None:
    ensure_company(ctx)
    assert seed(ctx, SYSTEM, users=40, seed=7) == {"identities": 40,
                                                    "organisations": len(DEMO_ORGS)}
    other = open_context(another_store_url(), clock=clock)
    try:
        ensure_company(other)
        seed(other, SYSTEM, users=40, seed=7)
        first, second = people(ctx), people(other)
    finally:
        other.close()
    assert first == second
    assert len({row[1] for row in first[:40]}) == 40  # 40 people, 40 distinct login IDs

    third = open_context(another_store_url(), clock=clock)
    try:
        ensure_company(third)
        seed(third, SYSTEM, users=40, seed=8)
        assert {r[1] for r in people(third)[:40]} != {r[1] for r in first[:40]}
    finally:
        third.close()


def test_seeding_twice_in_one_store_adds_distinct_people(ctx: Context) -> None:
    ensure_company(ctx)
    seed(ctx, SYSTEM, users=20, seed=1)
    seed(ctx, SYSTEM, users=20, seed=2)
    with ctx.store.read() as conn:
        logins = conn.execute(select(identity.c.login_id)).scalars().all()
    assert len(logins) == len(set(logins)) == 40
    with ctx.store.read() as conn:
        assert ctx.audit.verify(conn).ok


def test_first_run_creates_three_accounts_that_can_sign_in(ctx: Context,
                                                           secrets_to_scan: set[str]) -> None:
    accounts = first_run(ctx, SYSTEM, users=5)
    assert [a.role for a in accounts] == ["platform_admin", "security_reviewer", "lso"]
    assert len({a.password for a in accounts}) == 3
    expected_org = {"platform_admin": "XOS", "security_reviewer": "XOS", "lso": "NWGS"}
    for account in accounts:
        secrets_to_scan.add(account.password)
        assert len(account.password) >= 15  # NIST SP 800-63B-4, single factor
        session = sign_in(ctx, account.email, account.password)
        assert session.operator.roles == frozenset({Role(account.role), Role.USER})
        assert session.identity.org_code == expected_org[account.role]
        assert not session.must_change_password
