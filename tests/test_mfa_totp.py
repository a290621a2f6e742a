"""The TOTP engine through the services' own code paths, on both store backends: the RFC 6238
vectors, replay refusal and the look-around window, lockout with a growing delay (the clock is
moved, nobody sleeps), and the seed never in clear in the store, the logs or the audit trail."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import create_engine, make_url, select, text

from services.auth import (
    MfaStep,
    Session,
    complete_sign_in,
    sign_in,
    sign_in_with_recovery_code,
)
from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.mfa import enrolment
from services.mfa.engine import current_policy
from services.mfa.enrolment import confirm_enrolment, start_enrolment
from services.mfa.errors import CodeRejected, MfaLocked, SignInWithCodeFailed
from services.store.schema import audit_event, mfa_account
from tests.conftest import backend_of

PASSWORD = "quiet lantern orchard seventy"

# RFC 6238 Appendix A: the seeds are the ASCII digits repeated to the hash's block size.
SEEDS = {"SHA1": b"12345678901234567890",
         "SHA256": b"12345678901234567890123456789012",
         "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234"}
# RFC 6238 Appendix B: (Unix time, {algorithm: 8-digit code}).
VECTORS = (
    (59, {"SHA1": "94287082", "SHA256": "46119246", "SHA512": "90693936"}),
    (1111111109, {"SHA1": "07081804", "SHA256": "68084774", "SHA512": "25091201"}),
    (1111111111, {"SHA1": "14050471", "SHA256": "67062674", "SHA512": "99943326"}),
    (1234567890, {"SHA1": "89005924", "SHA256": "91819424", "SHA512": "93441116"}),
    (2000000000, {"SHA1": "69279037", "SHA256": "90698825", "SHA512": "38618901"}),
    (20000000000, {"SHA1": "65353130", "SHA256": "77737706", "SHA512": "47863826"}),
)


def set_time(clock: ManualClock, when: datetime) -> None:
    clock.advance(when - clock.now())


def at_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def enrolled(ctx: Context, make_person: Callable[..., Operator], clock: ManualClock,
             **kwargs: str) -> tuple[Operator, str, tuple[str, ...]]:
    """A person with an active authenticator: (operator, base32 secret, recovery codes)."""
    person = make_person(password=PASSWORD, **kwargs)
    started = start_enrolment(ctx, person)
    confirmed = confirm_enrolment(ctx, person, pyotp.TOTP(started.secret).at(clock.now()))
    return person, started.secret, confirmed.recovery_codes


def code(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
def test_rfc6238_vectors_through_sign_in(ctx: Context, clock: ManualClock,
                                         make_person: Callable[..., Operator],
                                         algorithm: str) -> None:
    person = make_person(password=PASSWORD)
    secret = base64.b32encode(SEEDS[algorithm]).decode()
    # The enrolment path with the RFC's seed in place of a random one, confirmed in the step
    # before the first vector, so that every vector is then checked by sign-in.
    set_time(clock, at_unix(29))
    started = enrolment._start(ctx, person, secret, algorithm=algorithm, digits=8, period=30)
    assert started.uri.startswith("otpauth://totp/Gatehouse:")
    digest = getattr(hashlib, algorithm.lower())
    first = pyotp.TOTP(secret, digits=8, digest=digest).at(clock.now())
    confirm_enrolment(ctx, person, first)
    for seconds, codes in VECTORS:
        set_time(clock, at_unix(seconds))
        session = sign_in(ctx, person.login_id, PASSWORD, otp=codes[algorithm])
        assert session.mfa is MfaStep.VERIFIED, seconds
        assert session.operator.mfa_verified


def test_a_code_is_accepted_once(ctx: Context, clock: ManualClock,
                                 make_person: Callable[..., Operator]) -> None:
    person, secret, _ = enrolled(ctx, make_person, clock)
    clock.advance(timedelta(seconds=30))
    now_code = code(secret, clock.now())
    assert sign_in(ctx, person.login_id, PASSWORD, otp=now_code).mfa is MfaStep.VERIFIED
    with pytest.raises(SignInWithCodeFailed) as refused:
        sign_in(ctx, person.login_id, PASSWORD, otp=now_code)
    # The same words as for a wrong password: nothing says which of the two was wrong.
    with pytest.raises(SignInWithCodeFailed) as wrong_password:
        sign_in(ctx, person.login_id, PASSWORD + "x", otp=code(secret, clock.now()))
    assert str(refused.value) == str(wrong_password.value)
    with ctx.store.read() as conn:
        reasons = [r.reason for r in conn.execute(select(audit_event).where(
            audit_event.c.action == "mfa.verify", audit_event.c.result == "refused"))]
    assert reasons == ["replay_attempt"]


def test_previous_step_in_the_window_only_if_later_than_the_last(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator]) -> None:
    person, secret, _ = enrolled(ctx, make_person, clock)  # confirmed in step s
    start = clock.now()
    step = timedelta(seconds=30)
    clock.advance(2 * step)  # now in step s+2
    previous = code(secret, start + step)  # step s+1: inside the window, never used
    session = sign_in(ctx, person.login_id, PASSWORD)
    assert complete_sign_in(ctx, session, previous).mfa is MfaStep.VERIFIED
    current = code(secret, clock.now())
    session = sign_in(ctx, person.login_id, PASSWORD)
    assert complete_sign_in(ctx, session, current).mfa is MfaStep.VERIFIED
    # s+1 is still inside the window but no longer later than the last accepted step.
    session = sign_in(ctx, person.login_id, PASSWORD)
    with pytest.raises(CodeRejected):
        complete_sign_in(ctx, session, previous)
    # Two steps back is outside the window whatever was used before.
    clock.advance(step)
    with pytest.raises(CodeRejected):
        complete_sign_in(ctx, sign_in(ctx, person.login_id, PASSWORD), code(secret, start))


def _fail(ctx: Context, sessions: list[Session], times: int) -> None:
    for n in range(times):
        with pytest.raises(CodeRejected):
            complete_sign_in(ctx, sessions[n % len(sessions)], "000000")


def test_lockout_across_sessions_and_unlock_after_a_growing_delay(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator]) -> None:
    person, secret, _ = enrolled(ctx, make_person, clock)
    policy = current_policy()
    limit = policy.failures_before_lockout
    # Two sign-ins share one counter (Keycloak: failures are per user, not per session).
    sessions = [sign_in(ctx, person.login_id, PASSWORD) for _ in range(2)]
    _fail(ctx, sessions, limit - 1)
    with pytest.raises(MfaLocked):
        complete_sign_in(ctx, sessions[0], "000000")
    clock.advance(timedelta(seconds=31))
    with pytest.raises(MfaLocked):  # even the right code waits
        complete_sign_in(ctx, sessions[1], code(secret, clock.now()))
    with pytest.raises(MfaLocked):  # and so does a new sign-in, before its password is looked at
        sign_in(ctx, person.login_id, PASSWORD)
    first_delay = policy.lockout_delay(0)
    clock.advance(first_delay)
    # The pause is over; more failures lock again, for twice as long.
    sessions = [sign_in(ctx, person.login_id, PASSWORD)]
    _fail(ctx, sessions, limit - 1)
    with pytest.raises(MfaLocked):
        complete_sign_in(ctx, sessions[0], "000000")
    with ctx.store.read() as conn:
        row = conn.execute(select(mfa_account).where(mfa_account.c.subject == person.subject)
                           ).one()
    assert row.locked_until - clock.now() == policy.lockout_delay(1) == 2 * first_delay
    clock.advance(first_delay + timedelta(seconds=1))
    with pytest.raises(MfaLocked):
        sign_in(ctx, person.login_id, PASSWORD)
    clock.advance(first_delay)
    session = sign_in(ctx, person.login_id, PASSWORD)
    assert complete_sign_in(ctx, session, code(secret, clock.now())).mfa is MfaStep.VERIFIED
    with ctx.store.read() as conn:
        row = conn.execute(select(mfa_account).where(mfa_account.c.subject == person.subject)
                           ).one()
    assert (row.failures, row.lockouts, row.locked_until) == (0, 0, None)


def test_recovery_codes_work_once_and_prompt_reenrolment(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator]) -> None:
    person, _secret, codes = enrolled(ctx, make_person, clock)
    policy = current_policy()
    assert len(codes) == policy.recovery_count
    assert all(len(c.replace("-", "")) == policy.recovery_length for c in codes)
    session = sign_in_with_recovery_code(ctx, sign_in(ctx, person.login_id, PASSWORD),
                                         codes[0].lower())  # typed loosely
    assert session.mfa is MfaStep.VERIFIED and session.operator.mfa_verified
    assert session.recovery_codes_left == policy.recovery_count - 1
    assert not session.reenrol_advised
    with pytest.raises(CodeRejected):
        sign_in_with_recovery_code(ctx, sign_in(ctx, person.login_id, PASSWORD), codes[0])
    left = policy.recovery_count - 1
    for spare in codes[1:]:
        if left <= policy.reenrol_when_left:
            break
        session = sign_in_with_recovery_code(ctx, sign_in(ctx, person.login_id, PASSWORD),
                                             spare)
        left -= 1
    assert session.recovery_codes_left == policy.reenrol_when_left
    assert session.reenrol_advised
    with ctx.store.read() as conn:
        used = conn.execute(select(audit_event.c.after).where(
            audit_event.c.action == "mfa.recovery_code",
            audit_event.c.result == "success")).all()
    assert len(used) == policy.recovery_count - policy.reenrol_when_left
    # The recorded event says how many remain, never which code.
    assert all(codes[0] not in row.after for row in used)


def _raw_forms(secret: str) -> list[bytes]:
    raw = base64.b32decode(secret)
    return [secret.encode(), secret.lower().encode(), raw, raw.hex().encode(),
            base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


def test_the_seed_is_never_in_clear(ctx: Context, clock: ManualClock, db_url: str,
                                    make_person: Callable[..., Operator],
                                    caplog: pytest.LogCaptureFixture,
                                    secrets_to_scan: set[str]) -> None:
    caplog.set_level(logging.DEBUG)
    person, secret, codes = enrolled(ctx, make_person, clock)
    secrets_to_scan.add(secret)  # the audit scan after the test looks for it too
    secrets_to_scan.update(codes)
    clock.advance(timedelta(seconds=30))
    sign_in(ctx, person.login_id, PASSWORD, otp=code(secret, clock.now()))
    with pytest.raises(SignInWithCodeFailed):
        sign_in(ctx, person.login_id, PASSWORD, otp=code(secret, clock.now()))  # a replay
    forms = _raw_forms(secret)
    if backend_of(db_url) == "sqlite":
        database = Path(make_url(db_url).database or "")
        files = [p for p in database.parent.glob(database.name + "*") if p.is_file()]
        assert database in files
        for path in files:
            content = path.read_bytes()
            for form in forms:
                assert form not in content, path.name
    else:
        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                tables = [r[0] for r in conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))]
                assert "mfa_credential" in tables
                for table in tables:
                    dump = "\n".join(str(tuple(row)) for row in conn.execute(
                        text(f'SELECT * FROM "{table}"')))
                    for form in forms:
                        assert form.decode("latin-1") not in dump, table
        finally:
            engine.dispose()
    assert all(form.decode("latin-1") not in caplog.text for form in forms)
    with ctx.store.read() as conn:
        trail = " ".join(f"{r.reason} {r.before} {r.after}" for r in conn.execute(
            select(audit_event)))
    assert "replay_attempt" in trail  # the scan had the refused replay to look at
    for form in forms:
        assert form.decode("latin-1") not in trail
