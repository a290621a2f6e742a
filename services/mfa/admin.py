"""A platform admin resets someone's MFA after a lost device (privacyIDEA's token rollout).

Never their own: separation of duties — an admin who lost their device asks another admin.
The reason is recorded; the person must enrol again at their next sign-in (no grace), their
command-line sessions end, and they are told by mail at their stored address, since a factor
change they did not ask for is a sign of takeover (NIST 800-63B 6.1.2.3).
"""

from __future__ import annotations

from sqlalchemy import delete, update

from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import InvalidInput, PermissionDenied
from services.mfa import engine
from services.store.schema import cli_session, mfa_account, mfa_credential, recovery_code
from services.users import find_subject, load_detail


def reset_mfa(ctx: Context, op: Operator, key: str, reason: str) -> None:
    """Retire ``key``'s authenticator and recovery codes; they enrol again at next sign-in."""
    from services.mail.outbox import enqueue

    require(op, Action.MFA_MANAGE)
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("Give the reason for the reset (for example: phone lost, reported "
                           "by ticket 1234); it is kept in the audit trail.")
    now = ctx.now()
    with ctx.store.write() as conn:
        detail = load_detail(conn, find_subject(conn, key))
        if detail.subject == op.subject:
            raise PermissionDenied("You cannot reset your own two-step verification "
                                   "(separation of duties): ask another platform admin.")
        had = engine.active_credential(conn, detail.subject)
        retired = conn.execute(
            update(mfa_credential)
            .where(mfa_credential.c.subject == detail.subject,
                   mfa_credential.c.status.in_(("active", "pending")))
            .values(status="retired", retired_at=now, version=mfa_credential.c.version + 1)
        ).rowcount
        conn.execute(delete(recovery_code).where(recovery_code.c.subject == detail.subject))
        engine.ensure_account(conn, detail.subject, now)
        conn.execute(update(mfa_account).where(mfa_account.c.subject == detail.subject).values(
            failures=0, lockouts=0, locked_until=None, reset_at=now, enrol_by=now,
            updated_at=now, version=mfa_account.c.version + 1))
        ended = conn.execute(
            update(cli_session)
            .where(cli_session.c.subject == detail.subject, cli_session.c.revoked_at.is_(None))
            .values(revoked_at=now)).rowcount
        enqueue(ctx, conn, kind="mfa_reset", to_address=detail.email,
                identity_subject=detail.subject,
                values={"given_name": detail.given_name, "reset_by": op.login_id,
                        "reset_at": now.strftime("%Y-%m-%d %H:%M UTC")})
        ctx.record(conn, op, "mfa.reset", "identity", detail.subject, reason=reason,
                   change=Change(before={"enrolled": had is not None},
                                 after={"enrolled": False, "authenticators_retired": retired,
                                        "cli_sessions_ended": ended,
                                        "must_enrol_by": now.isoformat()}))
