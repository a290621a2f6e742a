"""Sign-in, its second factor, and terms acceptance.

OWASP Authentication cheat sheet / Keycloak brute-force detection: one generic failure message
whether or not the account exists, comparable timing (a dummy hash is verified for unknown
IDs), and a failure counter per normalised login ID — case variants share it — that pauses
sign-in with a growing delay after ``max_failures``.

Second factor (issue 6). ``sign_in`` checks the password and returns a ``Session`` whose
``mfa`` step says what comes next:

- ``NOT_REQUIRED``: no MFA for this identity; the session is complete.
- ``CODE_NEEDED``: the identity has an authenticator; the session can do nothing until
  ``complete_sign_in`` (a TOTP code) or ``sign_in_with_recovery_code`` returns a ``VERIFIED``
  session.
- ``ENROL_SOON``: MFA is required and the grace period runs until ``enrol_by``; the person may
  read but not change anything privileged until ``complete_enrolment``.
- ``ENROL_NOW``: required and overdue (or reset by an admin): enrolment is all it can do.
- ``VERIFIED``: the second factor was proved; privileged changes are allowed.

Given ``otp`` together with the password (the CLI), a wrong password and a wrong code get the
same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.audit import Change
from services.authz import Action, Operator, Restriction, Role, require
from services.context import Context
from services.errors import AccountLocked, InvalidInput, SignInFailed
from services.identity import login_key
from services.mfa import engine
from services.mfa.enrolment import Confirmed, confirm_enrolment
from services.mfa.errors import CodeRejected, MfaLocked, SignInWithCodeFailed
from services.password_hash import hash_password, needs_rehash, verify_password
from services.store.schema import identity, login_attempt, signin_throttle, terms_acceptance
from services.terms import terms_version
from services.users import IdentityDetail, load_detail

_CAN_SIGN_IN = ("active", "reset_required")


class MfaStep(StrEnum):
    NOT_REQUIRED = "not_required"
    CODE_NEEDED = "code_needed"
    ENROL_SOON = "enrol_soon"
    ENROL_NOW = "enrol_now"
    VERIFIED = "verified"


@dataclass(frozen=True)
class Session:
    operator: Operator
    identity: IdentityDetail
    terms_accepted: bool  # the current terms version
    must_change_password: bool
    mfa: MfaStep = MfaStep.NOT_REQUIRED
    enrol_by: datetime | None = None  # ENROL_SOON / ENROL_NOW: the deadline
    recovery_codes_left: int | None = None  # after a recovery-code sign-in
    started_at: datetime | None = None  # when the password was accepted

    @property
    def complete(self) -> bool:
        """The sign-in is finished: the main window may open (ENROL_SOON included)."""
        return self.operator.restriction is None

    @property
    def reenrol_advised(self) -> bool:
        """Few recovery codes are left: offer enrolment of a new authenticator."""
        return self.recovery_codes_left is not None and \
            self.recovery_codes_left <= engine.current_policy().reenrol_when_left


def operator_for(detail: IdentityDetail) -> Operator:
    """The identity as an operator with all its roles, not (yet) MFA-verified."""
    return Operator(subject=detail.subject, login_id=detail.login_id,
                    organisation_id=detail.organisation_id,
                    roles=detail.tool_roles | {Role.USER})


def restricted_operator(detail: IdentityDetail, restriction: Restriction) -> Operator:
    """An unfinished sign-in: no role at all, so no service lets it read or change anything."""
    return Operator(subject=detail.subject, login_id=detail.login_id,
                    organisation_id=detail.organisation_id, roles=frozenset(),
                    restriction=restriction)


@dataclass(frozen=True)
class Gate:
    """What MFA asks of an identity at sign-in."""

    enrolled: bool
    required: bool
    enrol_by: datetime | None
    now: datetime

    @property
    def enrol_now(self) -> bool:
        return (not self.enrolled and self.required and self.enrol_by is not None
                and self.enrol_by <= self.now)


def sign_in_gate(conn: Connection, detail: IdentityDetail, now: datetime) -> Gate:
    """Inside a write transaction: a newly required identity's grace period starts here."""
    enrolled = engine.has_active(conn, detail.subject)
    required = engine.is_required(conn, detail.subject,
                                  frozenset(r.value for r in detail.tool_roles))
    enrol_by = engine.enrol_deadline(conn, detail.subject, now) \
        if required and not enrolled else None
    return Gate(enrolled=enrolled, required=required, enrol_by=enrol_by, now=now)


def _step_for(gate: Gate) -> MfaStep:
    if gate.enrolled:
        return MfaStep.CODE_NEEDED
    if not gate.required:
        return MfaStep.NOT_REQUIRED
    return MfaStep.ENROL_NOW if gate.enrol_now else MfaStep.ENROL_SOON


def _operator_at(detail: IdentityDetail, step: MfaStep) -> Operator:
    if step is MfaStep.CODE_NEEDED:
        return restricted_operator(detail, Restriction.CODE_NEEDED)
    if step is MfaStep.ENROL_NOW:
        return restricted_operator(detail, Restriction.ENROL_ONLY)
    return replace(operator_for(detail), mfa_verified=step is MfaStep.VERIFIED)


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


def sign_in(ctx: Context, typed_login: str, password: str, *,
            otp: str | None = None) -> Session:
    """Check the password (and ``otp`` if given); see the module docstring for the steps."""
    key = login_key(typed_login)
    now = ctx.now()
    with ctx.store.read() as conn:
        locked_until = conn.execute(select(signin_throttle.c.locked_until)
                                    .where(signin_throttle.c.login_id == key)).scalar_one_or_none()
        row = conn.execute(select(identity.c.subject, identity.c.status, identity.c.password_hash)
                           .where(identity.c.login_id == key, identity.c.status != "deleted")
                           ).one_or_none()
        mfa_locked = engine.locked_until(conn, row.subject, now) if row else None
    if locked_until is not None and locked_until > now:
        _record(ctx, key, row.subject if row else None, now, False, "paused")
        raise AccountLocked(locked_until.strftime("%Y-%m-%d %H:%M"))
    if mfa_locked is not None:
        # Checked before the password, so that the answer says nothing about the password.
        _record(ctx, key, row.subject if row else None, now, False, "mfa_paused")
        raise MfaLocked(mfa_locked.strftime("%Y-%m-%d %H:%M"))
    # Verify before deciding anything else, so every path spends one hash's time.
    ok = verify_password(password, row.password_hash if row else None)
    if not ok or row is None or row.status not in _CAN_SIGN_IN:
        reason = "unknown_login" if row is None else (
            "wrong_password" if not ok else f"status_{row.status}")
        record_failed_password(ctx, key, row.subject if row else None, reason)
        raise SignInWithCodeFailed() if otp is not None else SignInFailed()
    code_refused = False
    with ctx.store.write() as conn:
        conn.execute(delete(signin_throttle).where(signin_throttle.c.login_id == key))
        if row.password_hash and needs_rehash(row.password_hash):
            conn.execute(update(identity).where(identity.c.subject == row.subject)
                         .values(password_hash=hash_password(password)))
        detail = load_detail(conn, row.subject)
        gate = sign_in_gate(conn, detail, now)
        step = _step_for(gate)
        if step is MfaStep.CODE_NEEDED and otp is not None:
            result = engine.check_code(ctx, conn, row.subject, otp, actor=key,
                                       purpose="signin")
            code_refused = not result.accepted
            step = MfaStep.VERIFIED if result.accepted else step
        _attempt(conn, key, row.subject, now, not code_refused,
                 "wrong_code" if code_refused else "ok")
        ctx.audit.append(conn, at=now, actor=key, action="signin", target_type="identity",
                         target_id=row.subject, result="failure" if code_refused else "success",
                         reason="wrong_code" if code_refused else step.value)
        accepted = _terms_accepted(conn, row.subject)
    if code_refused:
        raise SignInWithCodeFailed()
    return Session(operator=_operator_at(detail, step), identity=detail,
                   terms_accepted=accepted,
                   must_change_password=detail.status == "reset_required", mfa=step,
                   enrol_by=gate.enrol_by, started_at=now)


def _terms_accepted(conn: Connection, subject: str) -> bool:
    return conn.execute(select(terms_acceptance.c.id).where(
        terms_acceptance.c.subject == subject,
        terms_acceptance.c.terms_version == terms_version())).first() is not None


def _pending(ctx: Context, session: Session) -> None:
    if session.mfa is not MfaStep.CODE_NEEDED:
        raise InvalidInput("This sign-in is not waiting for a code; sign in again.")
    window = engine.current_policy().code_step
    if session.started_at is None or ctx.now() - session.started_at > window:
        raise InvalidInput("The code was not entered in time; sign in again with your "
                           "password.")


def _verified(ctx: Context, session: Session, *, codes_left: int | None = None) -> Session:
    with ctx.store.read() as conn:
        detail = load_detail(conn, session.identity.subject)
        accepted = _terms_accepted(conn, detail.subject)
    return Session(operator=_operator_at(detail, MfaStep.VERIFIED), identity=detail,
                   terms_accepted=accepted,
                   must_change_password=detail.status == "reset_required",
                   mfa=MfaStep.VERIFIED, recovery_codes_left=codes_left,
                   started_at=session.started_at)


def _raise_for(result: engine.CheckResult) -> None:
    if result.verdict is engine.Verdict.LOCKED:
        assert result.locked_until is not None
        raise MfaLocked(result.locked_until.strftime("%Y-%m-%d %H:%M"))
    if result.verdict is engine.Verdict.NOT_ENROLLED:
        raise InvalidInput("This account has no authenticator any more (it may have been "
                           "reset); sign in again.")
    raise CodeRejected()


def complete_sign_in(ctx: Context, session: Session, code: str) -> Session:
    """Finish a ``CODE_NEEDED`` sign-in with a TOTP code; returns the ``VERIFIED`` session.

    Raises ``CodeRejected`` (wrong or already used code) or ``MfaLocked``; each failure counts
    towards the identity's lockout, across sessions.
    """
    _pending(ctx, session)
    subject = session.identity.subject
    with ctx.store.write() as conn:
        result = engine.check_code(ctx, conn, subject, code,
                                   actor=session.identity.login_id, purpose="signin")
    if not result.accepted:
        _raise_for(result)
    return _verified(ctx, session)


def sign_in_with_recovery_code(ctx: Context, session: Session, code: str) -> Session:
    """Finish a ``CODE_NEEDED`` sign-in with a recovery code (each works once; recorded).

    The session's ``recovery_codes_left`` tells how many remain; ``reenrol_advised`` asks the
    screen to offer a new authenticator.
    """
    _pending(ctx, session)
    subject = session.identity.subject
    with ctx.store.write() as conn:
        result = engine.check_recovery_code(ctx, conn, subject, code,
                                            actor=session.identity.login_id, purpose="signin")
    if not result.accepted:
        _raise_for(result)
    return _verified(ctx, session, codes_left=result.recovery_codes_left)


def complete_enrolment(ctx: Context, session: Session, code: str) -> tuple[Session, Confirmed]:
    """Confirm the enrolment started with ``services.mfa.enrolment.start_enrolment`` for this
    session's person; a current code proves the new factor, so the session becomes
    ``VERIFIED``. Returns it with the recovery codes (show them once)."""
    if session.mfa is MfaStep.CODE_NEEDED:
        raise InvalidInput("Finish signing in with your current authenticator first.")
    confirmed = confirm_enrolment(ctx, session.operator, code)
    return _verified(ctx, session), confirmed


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
