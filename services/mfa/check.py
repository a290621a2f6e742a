"""The real ``MfaCheck`` that password resets and changes ask (services.credentials): a reset
never bypasses an enrolled second factor (OWASP Forgot Password cheat sheet)."""

from __future__ import annotations

from sqlalchemy import Connection

from services.context import Context
from services.mfa import engine


class TotpCheck:
    """Whether an identity has an active authenticator, and whether a code from it is current.

    ``verify`` counts failures and moves the replay watermark in ``conn``: the caller must
    commit that transaction even when the code is refused.
    """

    def __init__(self, ctx: Context, *, purpose: str = "password") -> None:
        self._ctx = ctx
        self._purpose = purpose

    def required(self, conn: Connection, subject: str) -> bool:
        return engine.has_active(conn, subject)

    def verify(self, conn: Connection, subject: str, code: str | None) -> bool:
        if not code:
            return False
        result = engine.check_code(self._ctx, conn, subject, code, actor=subject,
                                   purpose=self._purpose)
        return result.accepted
