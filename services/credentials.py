"""Setting a new password, the one way every flow does it (reset completion, change, set-up).

The new password must pass the policy with the identity's own context and history
(``services.passwords``); it is hashed with argon2id, kept in the history, the identity leaves
``reset_required``, its other reset tokens are revoked, the person is told by mail at their
stored address, and the change is audited — all in the caller's transaction.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection, and_, insert, select, update

from services.audit import Change
from services.authz import Operator
from services.context import Context
from services.errors import Conflict, InvalidInput
from services.password_hash import hash_password
from services.store.schema import identity, password_history, reset_token
from services.users import IdentityDetail


class MfaCheck(Protocol):
    """Whether an identity has MFA, and whether a code is current: a reset never bypasses an
    enrolled second factor. The real one is ``services.mfa.check.TotpCheck``, the default of
    ``services.reset``; its ``verify`` counts failures and uses the code up inside ``conn``,
    so callers commit that transaction before acting on the answer."""

    def required(self, conn: Connection, subject: str) -> bool: ...

    def verify(self, conn: Connection, subject: str, code: str | None) -> bool: ...


class NoMfa:
    """Nobody has MFA: for flows where the second factor was already checked elsewhere."""

    def required(self, conn: Connection, subject: str) -> bool:
        return False

    def verify(self, conn: Connection, subject: str, code: str | None) -> bool:
        return False


class PasswordRejected(InvalidInput):
    """The policy refused the password; ``reasons`` are sentences, never the password."""

    exit_code = 1  # checked and found wanting

    def __init__(self, reasons: tuple[str, ...]) -> None:
        self.reasons = reasons
        super().__init__("The new password was not accepted: " + " ".join(reasons))


def history_hashes(conn: Connection, subject: str, depth: int) -> list[str]:
    rows = conn.execute(
        select(password_history.c.password_hash).where(password_history.c.subject == subject)
        .order_by(password_history.c.created_at.desc(), password_history.c.id.desc())
        .limit(depth)
    ).all()
    return [r[0] for r in rows]


def check_new_password(conn: Connection, detail: IdentityDetail, password: str,
                       *, has_mfa: bool) -> None:
    """Raise ``PasswordRejected`` with every failed rule, in words a person understands."""
    from services.passwords import PasswordContext, default_policy, validate_new_password

    policy = default_policy()
    context = PasswordContext(given_name=detail.given_name, family_name=detail.family_name,
                              email=detail.email, org_name=detail.org_name,
                              org_code=detail.org_code, has_mfa=has_mfa)
    evaluation = validate_new_password(
        password, context, policy, history_hashes(conn, detail.subject, policy.history_remember))
    if not evaluation.accepted:
        raise PasswordRejected(reasons=tuple(f.message for f in evaluation.failures))


def apply_new_password(ctx: Context, conn: Connection, op: Operator, detail: IdentityDetail,
                       password: str, *, action: str, has_mfa: bool = False) -> None:
    check_new_password(conn, detail, password, has_mfa=has_mfa)
    from services.mail.outbox import enqueue

    now = ctx.now()
    new_hash = hash_password(password)
    status = "active" if detail.status == "reset_required" else detail.status
    result = conn.execute(
        update(identity)
        .where(and_(identity.c.subject == detail.subject, identity.c.version == detail.version))
        .values(password_hash=new_hash, status=status, password_changed_at=now,
                version=identity.c.version + 1, updated_at=now)
    )
    if result.rowcount != 1:
        raise Conflict("This account")
    conn.execute(insert(password_history).values(subject=detail.subject,
                                                 password_hash=new_hash, created_at=now))
    revoked = conn.execute(
        update(reset_token)
        .where(reset_token.c.subject == detail.subject, reset_token.c.used_at.is_(None),
               reset_token.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    enqueue(ctx, conn, kind="password_changed", to_address=detail.email,
            identity_subject=detail.subject,
            values={"given_name": detail.given_name, "changed_at": now.strftime(
                "%Y-%m-%d %H:%M UTC")})
    ctx.record(conn, op, action, "identity", detail.subject, change=Change(
        before={"status": detail.status}, after={"status": status,
                                                 "open_resets_revoked": revoked}))
