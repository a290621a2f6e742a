"""Errors of the second factor, each a sentence saying what to do next."""

from __future__ import annotations

from services.errors import AccountLocked, CheckFailed, GatehouseError, SignInFailed


class CodeRejected(CheckFailed):
    """A code was checked and not accepted (exit code 1: checked and found wanting)."""

    def __init__(self) -> None:
        GatehouseError.__init__(
            self, "That code was not accepted: enter the code your authenticator app shows "
                  "now (each code works only once), or use one of your recovery codes.")


class MfaLocked(AccountLocked):
    """Too many wrong codes for this identity; the pause grows with each lockout."""

    def __init__(self, until_text: str) -> None:
        GatehouseError.__init__(
            self, "Two-step verification is paused for this account after repeated wrong "
                  f"codes; try again after {until_text} UTC, or ask a platform admin.")


class SignInWithCodeFailed(SignInFailed):
    """Password and code asked together: one answer, whichever of them was wrong."""

    def __init__(self) -> None:
        GatehouseError.__init__(
            self, "Sign-in failed: the email address, password or authenticator code is "
                  "wrong. Check them and try again with the code your app shows now.")
