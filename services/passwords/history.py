"""Password history: no reuse of the last N passwords (checked against their argon2id hashes).

Each comparison is a full argon2id verification (~70 ms here), so this runs when a password
is submitted — reset completion, change password — never in the live strength meter.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.passwords.outcome import Failure


def check_history(password: str, hashes: Sequence[str], *,
                  remember: int | None = None) -> Failure | None:
    """A ``reused`` failure when ``password`` matches one of ``hashes`` (newest first).

    ``remember`` limits the check to the newest N hashes (the policy's ``history.remember``);
    every one of them is verified, match or not, so the time taken does not tell which.
    """
    from services.password_hash import verify_password  # passlib: only when submitting

    recent = list(hashes if remember is None else hashes[:remember])
    matched = False
    for stored in recent:
        if stored and verify_password(password, stored):
            matched = True
    if not matched:
        return None
    count = remember if remember is not None else len(recent)
    return Failure("reused", f"Used before: choose a password that differs from your last "
                             f"{count} password{'s' if count != 1 else ''}.")
