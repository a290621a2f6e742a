"""Enrolling an authenticator: a person for themselves only (Keycloak's CONFIGURE_TOTP).

``start_enrolment`` makes a pending authenticator and returns its secret and provisioning URI,
to be shown once to the person enrolling; ``confirm_enrolment`` makes it active when the person
proves possession with a current code, and returns the recovery codes, also shown once.
Replacing an authenticator that is in use needs a sign-in that proved it (or its recovery
code): a stolen password alone must not swap the second factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, update

from services.audit import Change
from services.authz import Operator, Restriction
from services.context import Context
from services.errors import InvalidInput, PermissionDenied
from services.mfa import engine, recovery, totp
from services.store.schema import identity, mfa_account, mfa_credential, recovery_code


@dataclass(frozen=True)
class Enrolment:
    """What the wizard shows: the QR code of ``uri`` and ``secret`` in groups of four."""

    login_id: str
    secret: str  # base32; show once, never log
    uri: str  # otpauth://totp/Gatehouse:<login>?secret=…&issuer=Gatehouse…
    issuer: str
    algorithm: str
    digits: int
    period: int

    @property
    def secret_groups(self) -> str:
        return " ".join(self.secret[i:i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True)
class Confirmed:
    """The authenticator is active. ``recovery_codes``: show once, then forget."""

    recovery_codes: tuple[str, ...]
    replaced_previous: bool


@dataclass(frozen=True)
class MfaStatus:
    """One identity's MFA, as "My account" shows it."""

    enrolled: bool
    pending: bool  # an enrolment was started and not confirmed
    required: bool
    enrol_by: datetime | None
    locked_until: datetime | None
    recovery_codes_left: int
    confirmed_at: datetime | None
    reenrol_advised: bool  # few recovery codes left


def _self_only(op: Operator, what: str) -> None:
    if op.restriction is Restriction.CODE_NEEDED:
        raise PermissionDenied("Finish signing in with the code from your authenticator app "
                               f"before you {what}.")
    if op.subject == "system":
        raise PermissionDenied("Only a person can enrol an authenticator, for themselves.")


def start_enrolment(ctx: Context, op: Operator) -> Enrolment:
    """Begin (or begin again) enrolling an authenticator for the operator themselves."""
    _self_only(op, "enrol an authenticator")
    return _start(ctx, op, totp.new_secret())


def _start(ctx: Context, op: Operator, secret_b32: str, *, algorithm: str | None = None,
           digits: int | None = None, period: int | None = None) -> Enrolment:
    policy = engine.current_policy()
    algorithm, digits = algorithm or policy.algorithm, digits or policy.digits
    period = period or policy.period_seconds
    now = ctx.now()
    with ctx.store.write() as conn:
        if engine.has_active(conn, op.subject) and not op.mfa_verified:
            raise PermissionDenied(
                "You already have an authenticator. To replace it, sign in with a code from "
                "it (or a recovery code) first; if it is lost, ask a platform admin to reset "
                "your two-step verification.")
        login_id = conn.execute(identity.select().with_only_columns(identity.c.login_id)
                                .where(identity.c.subject == op.subject)).scalar_one()
        # A new start replaces an unconfirmed one: only the latest QR code will work.
        conn.execute(delete(mfa_credential).where(mfa_credential.c.subject == op.subject,
                                                  mfa_credential.c.status == "pending"))
        conn.execute(insert(mfa_credential).values(
            subject=op.subject, status="pending",
            seed_sealed=ctx.vault.encrypt(secret_b32.encode(), engine.seed_context(op.subject)),
            algorithm=algorithm, digits=digits, period=period, created_at=now, version=1))
        ctx.record(conn, op, "mfa.enrol.start", "identity", op.subject,
                   change=Change(after={"algorithm": algorithm, "digits": digits,
                                        "period": period}))
    return Enrolment(login_id=login_id, secret=secret_b32,
                     uri=totp.provisioning_uri(secret_b32, login_id, algorithm=algorithm,
                                               digits=digits, period=period),
                     issuer=totp.ISSUER, algorithm=algorithm, digits=digits, period=period)


def confirm_enrolment(ctx: Context, op: Operator, code: str) -> Confirmed:
    """Activate the pending authenticator with a current code; returns new recovery codes.

    A wrong code leaves the enrolment pending (the person tries again); it is audited but not
    counted towards the lockout, since a pending secret protects nothing yet.
    """
    _self_only(op, "confirm an authenticator")
    policy = engine.current_policy()
    now = ctx.now()
    with ctx.store.write() as conn:
        pending = engine.pending_credential(conn, op.subject)
        if pending is None:
            raise InvalidInput("There is no enrolment to confirm: start one first (python "
                               "main.py mfa enrol YOUR-EMAIL).")
        secret_b32 = ctx.vault.decrypt(pending.seed_sealed,
                                       engine.seed_context(op.subject)).decode()
        step = totp.match_step(secret_b32, code, now, algorithm=pending.algorithm,
                               digits=pending.digits, period=pending.period,
                               window=policy.window_steps)
        if step is None:
            ctx.record(conn, op, "mfa.enrol.confirm", "identity", op.subject,
                       result="refused", reason="wrong_code")
        else:
            codes, replaced = _activate(ctx, conn, op, pending.id, step, now)
    if step is None:
        raise InvalidInput("That code does not match the new authenticator. Check the app "
                           "shows Gatehouse with your email, and enter the code it shows now.")
    return Confirmed(recovery_codes=tuple(codes), replaced_previous=replaced)


def _activate(ctx: Context, conn: Connection, op: Operator, credential_id: int, step: int,
              now: datetime) -> tuple[list[str], bool]:
    policy = engine.current_policy()
    old = engine.active_credential(conn, op.subject)
    if old is not None:
        conn.execute(update(mfa_credential).where(mfa_credential.c.id == old.id)
                     .values(status="retired", retired_at=now,
                             version=mfa_credential.c.version + 1))
        conn.execute(delete(recovery_code).where(recovery_code.c.credential_id == old.id))
    # The confirming code's step is the first watermark: it cannot be replayed to sign in.
    conn.execute(update(mfa_credential).where(mfa_credential.c.id == credential_id)
                 .values(status="active", confirmed_at=now, last_step=step,
                         version=mfa_credential.c.version + 1))
    codes = recovery.new_codes(policy.recovery_count, policy.recovery_length)
    conn.execute(insert(recovery_code), [
        {"subject": op.subject, "credential_id": credential_id, "created_at": now,
         "code_hash": recovery.code_hash(ctx, conn, op.subject, code)} for code in codes])
    engine.ensure_account(conn, op.subject, now)
    conn.execute(update(mfa_account).where(mfa_account.c.subject == op.subject)
                 .values(failures=0, lockouts=0, locked_until=None, updated_at=now))
    ctx.record(conn, op, "mfa.enrol.confirm", "identity", op.subject, change=Change(
        before={"enrolled": old is not None},
        after={"enrolled": True, "recovery_codes_issued": len(codes)}))
    return codes, old is not None


def new_recovery_codes(ctx: Context, op: Operator) -> tuple[str, ...]:
    """Replace the operator's recovery codes (the old ones stop working); needs a verified
    sign-in."""
    _self_only(op, "make new recovery codes")
    if not op.mfa_verified:
        raise PermissionDenied("Sign in with a code from your authenticator first; then make "
                               "new recovery codes.")
    policy = engine.current_policy()
    now = ctx.now()
    with ctx.store.write() as conn:
        cred = engine.active_credential(conn, op.subject)
        if cred is None:
            raise InvalidInput("You have no authenticator: enrol one first.")
        conn.execute(delete(recovery_code).where(recovery_code.c.credential_id == cred.id))
        codes = recovery.new_codes(policy.recovery_count, policy.recovery_length)
        conn.execute(insert(recovery_code), [
            {"subject": op.subject, "credential_id": cred.id, "created_at": now,
             "code_hash": recovery.code_hash(ctx, conn, op.subject, code)} for code in codes])
        ctx.record(conn, op, "mfa.recovery_codes.renew", "identity", op.subject,
                   change=Change(after={"recovery_codes_issued": len(codes)}))
    return tuple(codes)


def status_in(conn: Connection, subject: str, tool_roles: frozenset[str],
              now: datetime) -> MfaStatus:
    cred = engine.active_credential(conn, subject)
    row = engine.account(conn, subject)
    left = engine.recovery_codes_left(conn, subject) if cred is not None else 0
    return MfaStatus(
        enrolled=cred is not None,
        pending=engine.pending_credential(conn, subject) is not None,
        required=engine.is_required(conn, subject, tool_roles),
        enrol_by=row.enrol_by if row is not None else None,
        locked_until=engine.locked_until(conn, subject, now),
        recovery_codes_left=left,
        confirmed_at=cred.confirmed_at if cred is not None else None,
        reenrol_advised=cred is not None and left <= engine.current_policy().reenrol_when_left,
    )


def my_status(ctx: Context, op: Operator) -> MfaStatus:
    """The operator's own MFA status (any signed-in person, even one who must enrol)."""
    with ctx.store.read() as conn:
        from services.users import load_detail

        roles = frozenset(r.value for r in load_detail(conn, op.subject).tool_roles)
        return status_in(conn, op.subject, roles, ctx.now())
