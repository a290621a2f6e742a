"""Password hashing: argon2id through passlib (the maintained ``libpass`` distribution).

OWASP Password Storage / NIST SP 800-63B: argon2id with m = 19 MiB, t = 2, p = 1 at least.
Passwords are NFC-normalised before hashing and never truncated.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from passlib.hash import argon2

MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1

_hasher = argon2.using(
    type="ID", memory_cost=MEMORY_KIB, time_cost=TIME_COST, parallelism=PARALLELISM
)


def _prepare(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def hash_password(password: str) -> str:
    return str(_hasher.hash(_prepare(password)))


def verify_password(password: str, stored_hash: str | None) -> bool:
    """True when ``password`` matches; with no stored hash, spends the same time and fails."""
    if not stored_hash:
        # The dummy hash first: computing it inside the call would load passlib's backend after
        # the lazy ``verify`` stub was looked up, and that stub then fails (the first sign-in of
        # an unknown account in a fresh process crashed).
        dummy = _dummy_hash()
        _hasher.verify(_prepare(password), dummy)
        return False
    try:
        return bool(_hasher.verify(_prepare(password), stored_hash))
    except (ValueError, TypeError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return bool(_hasher.needs_update(stored_hash))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified against for unknown accounts, so that timing does not tell who exists.
    return hash_password("gatehouse timing equaliser")
