"""Per-identity MFA state and the one way a code is checked.

Every check runs inside the caller's write transaction and never raises for a refused code:
it returns a ``Verdict`` after counting the failure and writing the audit event, so that the
caller commits those and only then tells the person (a raise inside the transaction would roll
the failure count back, and an attacker could guess for free).

- Replay (RFC 6238 s5.2; ASVS 6.5.1): the accepted step is stored by a conditional update
  (``last_step < step``), so of two processes offering one code on either backend only one
  wins; a code whose step is not later is refused and audited as a replay attempt.
- Throttling (NIST 800-63B 5.2.2; Keycloak brute-force detection): failures per identity,
  shared by every session and process; after the policy's limit, checks pause for a delay that
  grows with each lockout until a code is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from policies import MfaPolicy, load_mfa_policy
from services.audit import Change
from services.context import Context
from services.mfa import recovery, totp
from services.store.schema import (
    mfa_account,
    mfa_campaign_target,
    mfa_credential,
    recovery_code,
)

SEED_CONTEXT = "mfa-seed:"


@lru_cache(maxsize=1)
def current_policy() -> MfaPolicy:
    return load_mfa_policy()


def seed_context(subject: str) -> str:
    """Associated data binding a sealed seed to its identity: a copied row will not open."""
    return SEED_CONTEXT + subject


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong_code"
    REPLAY = "replay_attempt"
    LOCKED = "locked"
    NOT_ENROLLED = "not_enrolled"


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    locked_until: datetime | None = None
    recovery_codes_left: int | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED


# ---- per-identity account row ---------------------------------------------------------------


def account(conn: Connection, subject: str) -> Row[tuple[object, ...]] | None:
    return conn.execute(select(mfa_account).where(mfa_account.c.subject == subject)
                        ).one_or_none()


def ensure_account(conn: Connection, subject: str, now: datetime,
                   enrol_by: datetime | None = None) -> None:
    """Create the identity's row if missing (a concurrent creator wins harmlessly)."""
    if account(conn, subject) is not None:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(mfa_account).values(
                subject=subject, enrol_by=enrol_by, failures=0, lockouts=0, updated_at=now,
                version=1))
    except IntegrityError:
        pass


def locked_until(conn: Connection, subject: str, now: datetime) -> datetime | None:
    row = account(conn, subject)
    until = row.locked_until if row is not None else None
    return until if until is not None and until > now else None


def active_credential(conn: Connection, subject: str) -> Row[tuple[object, ...]] | None:
    return conn.execute(select(mfa_credential).where(
        mfa_credential.c.subject == subject, mfa_credential.c.status == "active")
    ).one_or_none()


def pending_credential(conn: Connection, subject: str) -> Row[tuple[object, ...]] | None:
    return conn.execute(select(mfa_credential).where(
        mfa_credential.c.subject == subject, mfa_credential.c.status == "pending")
    ).one_or_none()


def has_active(conn: Connection, subject: str) -> bool:
    return active_credential(conn, subject) is not None


def _count_failure(ctx: Context, conn: Connection, subject: str, now: datetime
                   ) -> datetime | None:
    """One more failure; returns when the lock lifts if this failure locks the identity."""
    policy = current_policy()
    ensure_account(conn, subject, now)
    row = conn.execute(select(mfa_account.c.failures, mfa_account.c.lockouts)
                       .where(mfa_account.c.subject == subject).with_for_update()).one()
    failures = row.failures + 1
    if failures < policy.failures_before_lockout:
        conn.execute(update(mfa_account).where(mfa_account.c.subject == subject)
                     .values(failures=failures, updated_at=now))
        return None
    until = now + policy.lockout_delay(row.lockouts)
    conn.execute(update(mfa_account).where(mfa_account.c.subject == subject)
                 .values(failures=0, lockouts=row.lockouts + 1, locked_until=until,
                         updated_at=now))
    return until


def _count_success(conn: Connection, subject: str, now: datetime) -> None:
    conn.execute(update(mfa_account).where(mfa_account.c.subject == subject)
                 .values(failures=0, lockouts=0, locked_until=None, updated_at=now))


def _audit(ctx: Context, conn: Connection, actor: str, subject: str, action: str,
           result: str, reason: str, purpose: str, extra: dict[str, object] | None = None
           ) -> None:
    ctx.audit.append(conn, at=ctx.now(), actor=actor, action=action, target_type="identity",
                     target_id=subject, result=result, reason=reason,
                     change=Change(after={"purpose": purpose, **(extra or {})}))


def _refuse(ctx: Context, conn: Connection, subject: str, verdict: Verdict, actor: str,
            action: str, purpose: str) -> CheckResult:
    now = ctx.now()
    until = _count_failure(ctx, conn, subject, now)
    reason = verdict.value + (" (verification paused)" if until else "")
    _audit(ctx, conn, actor, subject, action, "refused", reason, purpose)
    return CheckResult(Verdict.LOCKED if until else verdict, locked_until=until)


# ---- checks -----------------------------------------------------------------------------------


def check_code(ctx: Context, conn: Connection, subject: str, code: str | None, *,
               actor: str, purpose: str) -> CheckResult:
    """Check a TOTP code against the identity's active authenticator, in ``conn``."""
    now = ctx.now()
    until = locked_until(conn, subject, now)
    if until is not None:
        _audit(ctx, conn, actor, subject, "mfa.verify", "refused", "locked", purpose)
        return CheckResult(Verdict.LOCKED, locked_until=until)
    cred = active_credential(conn, subject)
    if cred is None:
        return CheckResult(Verdict.NOT_ENROLLED)
    secret_b32 = ctx.vault.decrypt(cred.seed_sealed, seed_context(subject)).decode()
    step = totp.match_step(secret_b32, code, now, algorithm=cred.algorithm, digits=cred.digits,
                           period=cred.period, window=current_policy().window_steps)
    if step is None:
        return _refuse(ctx, conn, subject, Verdict.WRONG, actor, "mfa.verify", purpose)
    # The watermark moves only forward, and only one of two concurrent checks moves it.
    moved = conn.execute(
        update(mfa_credential)
        .where(mfa_credential.c.id == cred.id,
               (mfa_credential.c.last_step.is_(None)) | (mfa_credential.c.last_step < step))
        .values(last_step=step)).rowcount
    if moved != 1:
        return _refuse(ctx, conn, subject, Verdict.REPLAY, actor, "mfa.verify", purpose)
    _count_success(conn, subject, now)
    _audit(ctx, conn, actor, subject, "mfa.verify", "success", "", purpose)
    return CheckResult(Verdict.ACCEPTED)


def recovery_codes_left(conn: Connection, subject: str) -> int:
    cred = active_credential(conn, subject)
    if cred is None:
        return 0
    rows = conn.execute(select(recovery_code.c.id).where(
        recovery_code.c.credential_id == cred.id, recovery_code.c.used_at.is_(None))).all()
    return len(rows)


def check_recovery_code(ctx: Context, conn: Connection, subject: str, code: str, *,
                        actor: str, purpose: str) -> CheckResult:
    """Accept an unused recovery code of the active authenticator once, in ``conn``."""
    now = ctx.now()
    until = locked_until(conn, subject, now)
    if until is not None:
        _audit(ctx, conn, actor, subject, "mfa.recovery_code", "refused", "locked", purpose)
        return CheckResult(Verdict.LOCKED, locked_until=until)
    cred = active_credential(conn, subject)
    if cred is None:
        return CheckResult(Verdict.NOT_ENROLLED)
    digest = recovery.code_hash(ctx, conn, subject, code)
    used = conn.execute(
        update(recovery_code)
        .where(recovery_code.c.code_hash == digest, recovery_code.c.subject == subject,
               recovery_code.c.credential_id == cred.id, recovery_code.c.used_at.is_(None))
        .values(used_at=now)).rowcount
    if used != 1:
        return _refuse(ctx, conn, subject, Verdict.WRONG, actor, "mfa.recovery_code", purpose)
    _count_success(conn, subject, now)
    left = recovery_codes_left(conn, subject)
    _audit(ctx, conn, actor, subject, "mfa.recovery_code", "success", "", purpose,
           {"recovery_codes_left": left})
    return CheckResult(Verdict.ACCEPTED, recovery_codes_left=left)


def is_required(conn: Connection, subject: str, tool_roles: frozenset[str]) -> bool:
    """Must this identity have MFA: a role the policy names, or the target of a campaign."""
    if tool_roles & current_policy().required_roles:
        return True
    return conn.execute(select(mfa_campaign_target.c.subject).where(
        mfa_campaign_target.c.subject == subject).limit(1)).first() is not None


def enrol_deadline(conn: Connection, subject: str, now: datetime) -> datetime:
    """The identity's enrolment deadline; the first time it is asked, now plus the grace."""
    ensure_account(conn, subject, now)
    row = account(conn, subject)
    assert row is not None
    if row.enrol_by is not None:
        deadline: datetime = row.enrol_by
        return deadline
    deadline = now + current_policy().grace
    conn.execute(update(mfa_account).where(mfa_account.c.subject == subject,
                                           mfa_account.c.enrol_by.is_(None))
                 .values(enrol_by=deadline, updated_at=now))
    row = account(conn, subject)
    assert row is not None and row.enrol_by is not None
    stored: datetime = row.enrol_by
    return stored
