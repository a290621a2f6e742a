"""Sign-in (OWASP Authentication cheat sheet; Keycloak brute-force detection): one generic
failure message, one argon2 verification on every path, a failure counter per normalised login
ID shared by case variants — for unknown IDs too — that pauses sign-in with a growing delay;
the clock is moved, never slept on."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

import services.password_hash as password_hash
from services.auth import accept_terms, sign_in, unlock_signin
from services.authz import SYSTEM, Operator, Role
from services.clock import ManualClock
from services.context import Context
from services.errors import AccountLocked, InvalidInput, SignInFailed
from services.orgs import org_by_code
from services.store.schema import audit_event, login_attempt, signin_throttle, terms_acceptance
from services.terms import terms_text, terms_version
from services.users import disable_identity

PASSWORD = "copper kettle winter meadow"
EMAIL = "lee.chen@northwind.example"
WRONG = "not the password"
GENERIC = "Sign-in failed: the email address or password is wrong. Check both and try again."


@pytest.fixture
def lee(make_person: Callable[..., Operator], secrets_to_scan: set[str]) -> Operator:
    secrets_to_scan.add(PASSWORD)
    return make_person("lso", org="NWGS", email=EMAIL, password=PASSWORD)


def throttle(ctx: Context, key: str) -> Any:
    with ctx.store.read() as conn:
        return conn.execute(select(signin_throttle).where(signin_throttle.c.login_id == key)
                            ).one_or_none()


def attempts(ctx: Context, key: str) -> list[tuple[bool, str]]:
    with ctx.store.read() as conn:
        rows = conn.execute(select(login_attempt.c.success, login_attempt.c.reason)
                            .where(login_attempt.c.login_id == key)
                            .order_by(login_attempt.c.id)).all()
    return [(bool(s), r) for s, r in rows]


def fail(ctx: Context, login: str, password: str = WRONG) -> str:
    with pytest.raises(SignInFailed) as failed:
        sign_in(ctx, login, password)
    return str(failed.value)


def paused_until(ctx: Context, login: str, password: str = PASSWORD) -> str:
    with pytest.raises(AccountLocked) as paused:
        sign_in(ctx, login, password)
    return str(paused.value)


def minute(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def test_success_returns_the_operator_with_their_roles(ctx: Context, lee: Operator) -> None:
    session = sign_in(ctx, "  Lee.Chen@Northwind.EXAMPLE ", PASSWORD)
    with ctx.store.read() as conn:
        nwgs = org_by_code(conn, "NWGS")
    assert session.operator.subject == lee.subject
    assert session.operator.login_id == EMAIL
    assert session.operator.roles == frozenset({Role.LSO, Role.USER})
    assert session.operator.organisation_id == nwgs.id
    assert session.identity.tool_roles == frozenset({Role.LSO})
    assert not session.must_change_password
    assert not session.terms_accepted
    assert attempts(ctx, EMAIL) == [(True, "ok")]


def test_wrong_password_unknown_account_and_disabled_account_read_the_same(
        ctx: Context, lee: Operator, make_person: Callable[..., Operator]) -> None:
    make_person(email="gone@northwind.example", org="NWGS", password=PASSWORD)
    disable_identity(ctx, SYSTEM, "gone@northwind.example", reason="left")

    messages = {
        fail(ctx, EMAIL),
        fail(ctx, "nobody@northwind.example"),
        fail(ctx, "not even an email address"),
        fail(ctx, "gone@northwind.example", PASSWORD),  # right password, disabled account
    }
    assert messages == {GENERIC}
    assert attempts(ctx, EMAIL) == [(False, "wrong_password")]
    assert attempts(ctx, "nobody@northwind.example") == [(False, "unknown_login")]
    assert attempts(ctx, "gone@northwind.example") == [(False, "status_disabled")]


def test_every_failure_path_verifies_one_argon2_hash_of_the_same_cost(
        ctx: Context, lee: Operator, monkeypatch: pytest.MonkeyPatch) -> None:
    real = password_hash._hasher
    verified: list[str] = []

    class CountingHasher:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def verify(self, secret: str, stored: str) -> bool:
            verified.append(stored)
            return bool(real.verify(secret, stored))

    password_hash._dummy_hash()  # computed once per process; not part of what is measured
    monkeypatch.setattr(password_hash, "_hasher", CountingHasher())

    timings = {}
    for login in (EMAIL, "nobody@northwind.example"):
        verified.clear()
        started = time.perf_counter()
        fail(ctx, login)
        timings[login] = time.perf_counter() - started
        assert len(verified) == 1, login
        assert verified[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$"), login
    # Both paths pay a full argon2id verification (tens of milliseconds), not a shortcut.
    assert all(seconds > 0.01 for seconds in timings.values()), timings


def test_repeated_failures_pause_the_login_id_shared_by_case_variants_and_the_pause_grows(
        ctx: Context, lee: Operator, clock: ManualClock) -> None:
    policy = ctx.identity_policy
    assert policy.max_failures == 10
    variants = ["Lee.Chen@Northwind.example", "LEE.CHEN@NORTHWIND.EXAMPLE", EMAIL,
                " lee.chen@northwind.EXAMPLE "]
    start = clock.now()
    for n in range(policy.max_failures):
        fail(ctx, variants[n % len(variants)])
    row = throttle(ctx, EMAIL)
    assert row.failures == policy.max_failures
    assert row.locked_until == start + timedelta(seconds=policy.lockout_seconds)

    # Paused: even the right password is not checked, and the message names the time.
    message = paused_until(ctx, "LEE.chen@northwind.example")
    assert minute(start + timedelta(seconds=60)) in message
    assert "ask a platform admin to unlock it" in message

    clock.advance(timedelta(seconds=61))
    fail(ctx, variants[1])  # the 11th failure: the pause doubles
    assert throttle(ctx, EMAIL).locked_until == clock.now() + timedelta(seconds=120)
    clock.advance(timedelta(seconds=119))
    paused_until(ctx, EMAIL)

    clock.advance(timedelta(seconds=2))
    session = sign_in(ctx, variants[3], PASSWORD)
    assert session.operator.subject == lee.subject
    assert throttle(ctx, EMAIL) is None  # success resets the counter

    fail(ctx, EMAIL)
    assert throttle(ctx, EMAIL).failures == 1
    assert throttle(ctx, EMAIL).locked_until is None

    reasons = [reason for _ok, reason in attempts(ctx, EMAIL)]
    assert reasons == ["wrong_password"] * 10 + [
        "paused", "wrong_password", "paused", "ok", "wrong_password"]


def test_the_pause_stops_growing_at_the_policy_ceiling(ctx: Context, lee: Operator,
                                                       clock: ManualClock) -> None:
    fail(ctx, EMAIL)
    with ctx.store.write() as conn:  # as if many pauses had already passed
        conn.execute(update(signin_throttle).where(signin_throttle.c.login_id == EMAIL)
                     .values(failures=40))
    fail(ctx, EMAIL)
    assert throttle(ctx, EMAIL).locked_until == clock.now() + timedelta(
        seconds=ctx.identity_policy.lockout_max_seconds)


def test_unknown_login_ids_are_throttled_exactly_like_known_ones(
        ctx: Context, lee: Operator, clock: ManualClock) -> None:
    unknown = "nobody@northwind.example"
    for _ in range(ctx.identity_policy.max_failures):
        fail(ctx, EMAIL)
        fail(ctx, unknown.upper())
    assert throttle(ctx, unknown).failures == throttle(ctx, EMAIL).failures
    assert paused_until(ctx, unknown) == paused_until(ctx, EMAIL)


def test_a_platform_admin_can_lift_the_pause(ctx: Context, lee: Operator) -> None:
    for _ in range(ctx.identity_policy.max_failures):
        fail(ctx, EMAIL)
    paused_until(ctx, EMAIL)
    unlock_signin(ctx, SYSTEM, "LEE.CHEN@northwind.example")
    assert sign_in(ctx, EMAIL, PASSWORD).operator.subject == lee.subject


def test_failures_are_audited_without_the_password(ctx: Context, lee: Operator) -> None:
    fail(ctx, EMAIL, "my secret guess")
    with ctx.store.read() as conn:
        event = conn.execute(select(audit_event).order_by(audit_event.c.seq.desc())).first()
    assert event is not None
    assert (event.action, event.result, event.actor, event.target_id) == (
        "signin", "failure", EMAIL, lee.subject)
    assert "my secret guess" not in " ".join(map(str, event))


def test_terms_acceptance_is_recorded_once_with_the_current_version(
        ctx: Context, lee: Operator) -> None:
    assert "By logging in, you are agreeing to the Terms & Conditions" in terms_text()
    operator = sign_in(ctx, EMAIL, PASSWORD).operator
    accept_terms(ctx, operator)
    accept_terms(ctx, operator, terms_version())  # again: nothing new
    with pytest.raises(InvalidInput, match="out of date"):
        accept_terms(ctx, operator, "sha256:000000000000")

    with ctx.store.read() as conn:
        rows = conn.execute(select(terms_acceptance.c.terms_version)
                            .where(terms_acceptance.c.subject == lee.subject)).scalars().all()
        events = conn.execute(select(audit_event.c.after).where(
            audit_event.c.action == "terms.accept")).scalars().all()
    assert rows == [terms_version()]
    assert len(events) == 1
    assert terms_version() in events[0]
    assert sign_in(ctx, EMAIL, PASSWORD).terms_accepted
