"""Errors a person reads: each message is a sentence that says what to do next.

The CLI maps every ``GatehouseError`` to exit code 2 (bad input, refused, fault) or, for
``CheckFailed``, exit code 1; the GUI shows the message in a dialog. No traceback reaches a person.
"""

from __future__ import annotations


class GatehouseError(Exception):
    """Base of every error meant for a person: ``str(err)`` is the whole message."""

    exit_code = 2


class InvalidInput(GatehouseError):
    """The input cannot be used as given (malformed email, unknown organisation, …)."""


class MfaCodeRequired(InvalidInput):
    """The account has two-step verification: a current authenticator code is needed too."""


class NotFound(GatehouseError):
    """The named thing does not exist (or the operator may not see it)."""


class AlreadyExists(GatehouseError):
    """A unique thing (login ID, organisation code) is already taken."""


class PermissionDenied(GatehouseError):
    """The acting operator's role does not allow this action on this target."""


class Conflict(GatehouseError):
    """Optimistic locking: the row changed since it was read."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} was changed by someone else since you opened it; reload it and try again."
        )


class SignInFailed(GatehouseError):
    """Generic sign-in failure: never says whether the account exists."""

    def __init__(self) -> None:
        super().__init__(
            "Sign-in failed: the email address or password is wrong. Check both and try again."
        )


class AccountLocked(GatehouseError):
    """Too many failed sign-ins for this login ID; the lock lifts at ``until``."""

    def __init__(self, until_text: str) -> None:
        super().__init__(
            "Sign-in is paused for this account after repeated failures; try again after "
            f"{until_text} UTC, or ask a platform admin to unlock it."
        )


class StoreUnavailable(GatehouseError):
    """The database cannot be reached or opened."""


class SchemaTooNew(GatehouseError):
    """The store was written by a newer Gatehouse than this one."""


class VaultUnavailable(GatehouseError):
    """No master key can be had: no keyring backend, wrong passphrase, missing key."""


class CheckFailed(GatehouseError):
    """A check ran and found something wanting (exit code 1, not a usage error)."""

    exit_code = 1
