"""Password resets with single-use tokens: forced (migration, admin) and self-service.

OWASP Forgot Password cheat sheet / ASVS 6.3: tokens of 256 random bits, stored only as
SHA-256, bound to one identity and one purpose, single use, expiring; the same answer in
comparable time whether or not an address exists; requests rate-limited per address and never
locking anyone out; completion creates no session and never bypasses enrolled MFA; an admin
may start a reset but never chooses or learns the password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, insert, select, update

from services.audit import Change
from services.auth import record_failed_password
from services.authz import SYSTEM, Action, Operator
from services.context import Context
from services.credentials import MfaCheck, apply_new_password
from services.errors import InvalidInput, MfaCodeRequired
from services.identity import login_key
from services.store.schema import RESET_PURPOSES, identity, reset_request, reset_token
from services.users import find_subject, load_detail, require_manage

TOKEN_BYTES = 32  # 256 bits
_RESETTABLE = ("active", "reset_required")

UNUSABLE_CODE_MESSAGE = (
    "This reset code is not valid: it has expired, was already used, or was "
    "replaced by a newer one. Request a new reset.")
REQUEST_ANSWER = ("If that address belongs to an account, a reset code is on its way to it. "
                  "It is valid for a short time; check your mail, including spam.")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def issue_reset(ctx: Context, conn: Connection, op: Operator, subject: str,
                purpose: str) -> str:
    """Create a reset token for ``subject`` and mail it to the stored address, inside the
    caller's transaction. Returns the token for the mail pipeline and tests: never show it to
    an operator."""
    from services.mail.outbox import enqueue

    if purpose not in RESET_PURPOSES:
        raise ValueError(f"unknown reset purpose {purpose!r}")
    detail = load_detail(conn, subject)
    now = ctx.now()
    expires = now + ctx.identity_policy.reset_expiry[purpose]
    token = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(insert(reset_token).values(
        token_hash=token_hash(token), subject=subject, purpose=purpose, created_at=now,
        expires_at=expires, created_by=op.login_id))
    enqueue(ctx, conn, kind="reset_link", to_address=detail.email, identity_subject=subject,
            values={"given_name": detail.given_name, "token": token,
                    "expires_at": expires.strftime("%Y-%m-%d %H:%M UTC"), "purpose": purpose})
    ctx.record(conn, op, "reset.issue", "identity", subject,
               change=Change(after={"purpose": purpose, "expires_at": expires.isoformat()}))
    return token


def request_reset(ctx: Context, typed_email: str) -> str:
    """Self-service request: always the same answer; a token only for a live account."""
    key = login_key(typed_email)
    now = ctx.now()
    with ctx.store.write() as conn:
        recent = conn.execute(select(func.count()).select_from(reset_request).where(
            reset_request.c.login_id == key,
            reset_request.c.at > now - timedelta(hours=1))).scalar_one()
        row = conn.execute(select(identity.c.subject, identity.c.status).where(
            identity.c.login_id == key, identity.c.status != "deleted")).one_or_none()
        if recent >= ctx.identity_policy.reset_max_requests_per_hour:
            outcome = "rate_limited"
        elif row is None:
            outcome = "unknown_address"
        elif row.status not in _RESETTABLE:
            outcome = f"status_{row.status}"
        else:
            outcome = "issued"
        conn.execute(insert(reset_request).values(login_id=key, at=now, outcome=outcome))
        if outcome == "issued" and row is not None:
            issue_reset(ctx, conn, SYSTEM, row.subject, "self_service")
        else:
            ctx.audit.append(conn, at=now, actor=key, action="reset.request",
                             target_type="login_id", target_id=key, result="refused",
                             reason=outcome)
    return REQUEST_ANSWER


def force_reset(ctx: Context, op: Operator, key: str, *, reason: str = "",
                purpose: str = "admin") -> None:
    """An admin (or the LSO of the person's organisation) makes someone set a new password.

    The current password stops working at once; the person gets a reset code by mail.
    """
    with ctx.store.write() as conn:
        detail = load_detail(conn, find_subject(conn, key))
        require_manage(op, Action.RESET_FORCE, detail)
        if detail.status not in _RESETTABLE:
            raise InvalidInput(f"{detail.login_id} is {detail.status}; enable it before forcing "
                               "a password reset.")
        now = ctx.now()
        changed = conn.execute(
            update(identity).where(and_(identity.c.subject == detail.subject,
                                        identity.c.version == detail.version))
            .values(status="reset_required", password_hash=None,
                    version=identity.c.version + 1, updated_at=now)).rowcount
        if changed != 1:
            from services.errors import Conflict

            raise Conflict("This identity")
        ctx.record(conn, op, "reset.force", "identity", detail.subject, reason=reason,
                   change=Change(before={"status": detail.status},
                                 after={"status": "reset_required"}))
        issue_reset(ctx, conn, op, detail.subject, purpose)


def complete_reset(ctx: Context, token: str, new_password: str, *, otp: str | None = None,
                   purpose: str | None = None, mfa: MfaCheck | None = None) -> str:
    """Set a new password with a reset token. Returns the subject id; signs nobody in."""
    mfa = mfa or _default_mfa(ctx)
    digest = token_hash(token)
    now = ctx.now()
    with ctx.store.read() as conn:
        row = conn.execute(select(reset_token).where(reset_token.c.token_hash == digest)
                           ).one_or_none()
    if (row is None or row.used_at is not None or row.revoked_at is not None
            or row.expires_at <= now or (purpose is not None and row.purpose != purpose)):
        _refuse(ctx, row.subject if row else None, "unusable_code", now)
        raise InvalidInput(UNUSABLE_CODE_MESSAGE)
    has_mfa = _second_factor(ctx, mfa, row.subject, otp, (
        "This account has two-step verification: enter the current code from your "
        "authenticator app as well as the reset code."))
    with ctx.store.write() as conn:
        detail = load_detail(conn, row.subject)
        if detail.status not in _RESETTABLE:
            raise InvalidInput(UNUSABLE_CODE_MESSAGE)
        # Consume first: of two completions at once, exactly one changes this row.
        consumed = conn.execute(
            update(reset_token).where(reset_token.c.id == row.id,
                                      reset_token.c.used_at.is_(None),
                                      reset_token.c.revoked_at.is_(None))
            .values(used_at=now)).rowcount
        if consumed != 1:
            raise InvalidInput(UNUSABLE_CODE_MESSAGE)
        owner = Operator(subject=detail.subject, login_id=detail.login_id,
                         organisation_id=detail.organisation_id, roles=frozenset())
        apply_new_password(ctx, conn, owner, detail, new_password, action="reset.complete",
                           has_mfa=has_mfa)
    return detail.subject


def _default_mfa(ctx: Context) -> MfaCheck:
    from services.mfa.check import TotpCheck

    return TotpCheck(ctx)


def _second_factor(ctx: Context, mfa: MfaCheck, subject: str, otp: str | None,
                   refusal: str) -> bool:
    """Whether the identity has MFA; raises unless ``otp`` is current. The check commits in a
    transaction of its own, so a refused code still counts towards the lockout and a used one
    cannot be replayed, whatever happens to the password change after it."""
    with ctx.store.write() as conn:
        has_mfa = mfa.required(conn, subject)
        accepted = has_mfa and mfa.verify(conn, subject, otp)
    if has_mfa and not accepted:
        raise MfaCodeRequired(refusal)
    return has_mfa


def _refuse(ctx: Context, subject: str | None, reason: str, now: datetime) -> None:
    with ctx.store.write() as conn:
        ctx.audit.append(conn, at=now, actor="anonymous", action="reset.complete",
                         target_type="identity", target_id=subject or "unknown",
                         result="refused", reason=reason)


def change_password(ctx: Context, op: Operator, current_password: str, new_password: str,
                    *, otp: str | None = None, mfa: MfaCheck | None = None) -> None:
    """A signed-in person changes their own password (nobody can do it for them)."""
    from services.errors import SignInFailed
    from services.password_hash import verify_password

    mfa = mfa or _default_mfa(ctx)
    with ctx.store.read() as conn:
        stored = conn.execute(select(identity.c.password_hash).where(
            identity.c.subject == op.subject)).scalar_one_or_none()
    if not verify_password(current_password, stored):
        # A wrong current password counts like a failed sign-in: an unattended session must
        # not allow unlimited guesses.
        record_failed_password(ctx, op.login_id, op.subject, "change_password_wrong_current")
        raise SignInFailed()
    has_mfa = _second_factor(ctx, mfa, op.subject, otp,
                             "Enter the current code from your authenticator app.")
    with ctx.store.write() as conn:
        detail = load_detail(conn, op.subject)
        apply_new_password(ctx, conn, op, detail, new_password, action="password.change",
                           has_mfa=has_mfa)
