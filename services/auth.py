"""Sign-in and terms acceptance.

OWASP Authentication cheat sheet / Keycloak brute-force detection: one generic failure message
whether or not the account exists, comparable timing (a dummy hash is verified for unknown
IDs), and a failure counter per normalised login ID — case variants share it — that pauses
sign-in with a growing delay after ``max_failures``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.audit import Change
from services.authz import Action, Operator, Role, require
from services.context import Context
from services.errors import AccountLocked, InvalidInput, SignInFailed
from services.identity import login_key
from services.password_hash import hash_password, needs_rehash, verify_password
from services.store.schema import identity, login_attempt, signin_throttle, terms_acceptance
from services.terms import terms_version
from services.users import IdentityDetail, load_detail

_CAN_SIGN_IN = ("active", "reset_required")


@dataclass(frozen=True)
class Session:
    operator: Operator
    identity: IdentityDetail
    terms_accepted: bool  # the current terms version
    must_change_password: bool


def operator_for(detail: IdentityDetail) -> Operator:
    return Operator(subject=detail.subject, login_id=detail.login_id,
                    organisation_id=detail.organisation_id,
                    roles=detail.tool_roles | {Role.USER})


def _lock_delay(ctx: Context, failures: int) -> timedelta | None:
    policy = ctx.identity_policy
    if failures < policy.max_failures:
        return None
    seconds = policy.lockout_seconds * 2 ** min(failures - policy.max_failures, 20)
    return timedelta(seconds=min(seconds, policy.lockout_max_seconds))


def _count_failure(ctx: Context, conn: Connection, key: str, now: datetime) -> datetime | None:
    failures = conn.execute(select(signin_throttle.c.failures)
                            .where(signin_throttle.c.login_id == key)).scalar_one_or_none()
    failures = (failures or 0) + 1
    delay = _lock_delay(ctx, failures)
    until = now + delay if delay else None
    values = {"failures": failures, "locked_until": until, "updated_at": now}
    if failures == 1:
        try:
            with conn.begin_nested():
                conn.execute(insert(signin_throttle).values(login_id=key, **values))
            return until
        except IntegrityError:
            pass  # another sign-in counted first: fall through to the update
    conn.execute(update(signin_throttle).where(signin_throttle.c.login_id == key)
                 .values(failures=signin_throttle.c.failures + 1, locked_until=until,
                         updated_at=now))
    return until


def record_failed_password(ctx: Context, key: str, subject: str | None, reason: str) -> None:
    """Count a wrong password against the login ID's sign-in throttle, and audit it."""
    now = ctx.now()
    with ctx.store.write() as conn:
        until = _count_failure(ctx, conn, key, now)
        _attempt(conn, key, subject, now, False, reason)
        ctx.audit.append(conn, at=now, actor=key, action="signin", target_type="identity",
                         target_id=subject or key, result="failure",
                         reason=reason + (" (sign-in paused)" if until else ""))


def sign_in(ctx: Context, typed_login: str, password: str) -> Session:
    key = login_key(typed_login)
    now = ctx.now()
    with ctx.store.read() as conn:
        locked_until = conn.execute(select(signin_throttle.c.locked_until)
                                    .where(signin_throttle.c.login_id == key)).scalar_one_or_none()
        row = conn.execute(select(identity.c.subject, identity.c.status, identity.c.password_hash)
                           .where(identity.c.login_id == key, identity.c.status != "deleted")
                           ).one_or_none()
    if locked_until is not None and locked_until > now:
        _record(ctx, key, row.subject if row else None, now, False, "paused")
        raise AccountLocked(locked_until.strftime("%Y-%m-%d %H:%M"))
    # Verify before deciding anything else, so every path spends one hash's time.
    ok = verify_password(password, row.password_hash if row else None)
    if not ok or row is None or row.status not in _CAN_SIGN_IN:
        reason = "unknown_login" if row is None else (
            "wrong_password" if not ok else f"status_{row.status}")
        record_failed_password(ctx, key, row.subject if row else None, reason)
        raise SignInFailed()
    with ctx.store.write() as conn:
        conn.execute(delete(signin_throttle).where(signin_throttle.c.login_id == key))
        if row.password_hash and needs_rehash(row.password_hash):
            conn.execute(update(identity).where(identity.c.subject == row.subject)
                         .values(password_hash=hash_password(password)))
        _attempt(conn, key, row.subject, now, True, "ok")
        ctx.audit.append(conn, at=now, actor=key, action="signin", target_type="identity",
                         target_id=row.subject)
        detail = load_detail(conn, row.subject)
        accepted = conn.execute(select(terms_acceptance.c.id).where(
            terms_acceptance.c.subject == row.subject,
            terms_acceptance.c.terms_version == terms_version())).first() is not None
    return Session(operator=operator_for(detail), identity=detail, terms_accepted=accepted,
                   must_change_password=detail.status == "reset_required")


def _attempt(conn: Connection, key: str, subject: str | None, at: datetime, success: bool,
             reason: str) -> None:
    conn.execute(insert(login_attempt).values(login_id=key, subject=subject, at=at,
                                              success=success, reason=reason))


def _record(ctx: Context, key: str, subject: str | None, now: datetime, success: bool,
            reason: str) -> None:
    with ctx.store.write() as conn:
        _attempt(conn, key, subject, now, success, reason)
        ctx.audit.append(conn, at=now, actor=key, action="signin", target_type="identity",
                         target_id=subject or key, result="failure" if not success else "success",
                         reason=reason)


def accept_terms(ctx: Context, op: Operator, version: str | None = None) -> None:
    """Record that the operator accepted the sign-in terms (the current version by default)."""
    version = version or terms_version()
    if version != terms_version():
        raise InvalidInput("These terms are out of date; read the current terms and accept them.")
    now = ctx.now()
    with ctx.store.write() as conn:
        exists = conn.execute(select(terms_acceptance.c.id).where(
            terms_acceptance.c.subject == op.subject,
            terms_acceptance.c.terms_version == version)).first()
        if exists:
            return
        conn.execute(insert(terms_acceptance).values(subject=op.subject, terms_version=version,
                                                     accepted_at=now))
        ctx.record(conn, op, "terms.accept", "identity", op.subject,
                   change=Change(after={"terms_version": version}))


def unlock_signin(ctx: Context, op: Operator, typed_login: str) -> None:
    """Clear the failure counter of a login ID (platform admin)."""
    require(op, Action.IDENTITY_UPDATE)
    key = login_key(typed_login)
    with ctx.store.write() as conn:
        conn.execute(delete(signin_throttle).where(signin_throttle.c.login_id == key))
        ctx.record(conn, op, "signin.unlock", "login_id", key)
