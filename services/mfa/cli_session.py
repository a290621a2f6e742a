"""Command-line sessions: sign in once, run several commands.

A TOTP code is accepted once (the replay watermark), so a script that runs several commands
cannot give each the same GATEHOUSE_OTP. ``python main.py signin`` checks the password and code
once and prints a token of 256 random bits; later commands pass it in GATEHOUSE_SESSION. Only
its SHA-256 is stored (like reset tokens), it expires after the policy's minutes, a sign-out or
an MFA reset ends it, and the person's roles and status are read afresh on every use.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import insert, select, update

from services.audit import Change
from services.authz import Operator, Restriction
from services.context import Context
from services.errors import InvalidInput, PermissionDenied
from services.mfa import engine
from services.store.schema import cli_session

TOKEN_BYTES = 32
EXPIRED_MESSAGE = ("The command-line session in GATEHOUSE_SESSION has expired or ended: sign "
                   "in again with python main.py signin.")


@dataclass(frozen=True)
class IssuedSession:
    token: str  # show once to the person; never log
    expires_at: datetime
    mfa_verified: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def issue_cli_session(ctx: Context, op: Operator) -> IssuedSession:
    """A token for a finished sign-in (``op`` from ``services.auth``)."""
    if op.restriction is not None or op.subject == "system":
        raise PermissionDenied("Finish signing in (code or enrolment) before starting a "
                               "command-line session.")
    now = ctx.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = now + engine.current_policy().cli_session
    with ctx.store.write() as conn:
        conn.execute(insert(cli_session).values(
            token_hash=_digest(token), subject=op.subject, mfa_verified=op.mfa_verified,
            created_at=now, expires_at=expires))
        ctx.record(conn, op, "cli_session.start", "identity", op.subject,
                   change=Change(after={"expires_at": expires.isoformat(),
                                        "mfa_verified": op.mfa_verified}))
    return IssuedSession(token=token, expires_at=expires, mfa_verified=op.mfa_verified)


def resume_cli_session(ctx: Context, token: str) -> Operator:
    """The operator of a live session, with today's roles; refused when expired or ended."""
    from services.auth import operator_for, restricted_operator, sign_in_gate
    from services.users import load_detail

    now = ctx.now()
    with ctx.store.write() as conn:
        row = conn.execute(select(cli_session).where(
            cli_session.c.token_hash == _digest(token))).one_or_none()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise InvalidInput(EXPIRED_MESSAGE)
        detail = load_detail(conn, row.subject)
        if detail.status not in ("active", "reset_required"):
            raise InvalidInput(EXPIRED_MESSAGE)
        op = replace(operator_for(detail), mfa_verified=bool(row.mfa_verified))
        if not op.mfa_verified and sign_in_gate(conn, detail, now).enrol_now:
            return restricted_operator(detail, Restriction.ENROL_ONLY)
    return op


def end_cli_session(ctx: Context, token: str) -> bool:
    """Sign out: the token stops working. Returns whether it was live."""
    now = ctx.now()
    with ctx.store.write() as conn:
        ended = conn.execute(update(cli_session).where(
            cli_session.c.token_hash == _digest(token), cli_session.c.revoked_at.is_(None),
            cli_session.c.expires_at > now).values(revoked_at=now)).rowcount
    return ended == 1

