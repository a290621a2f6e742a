"""Recovery codes: shown once, stored as keyed hashes, each accepted once.

A code is ``length`` symbols of Crockford's base32 (no I, L, O or U to misread), 5 bits each:
the default 10 give 50 bits. They are kept as HMAC-SHA256 under a key sealed by the vault,
bound to the identity — not argon2: a code is only ever guessed online, where the per-identity
lockout bounds the attempts, and a stolen database without the master key cannot test a single
guess offline. Anyone who also holds the master key can unseal the TOTP seeds themselves, so a
slow hash would add a delay to every recovery sign-in (one hash per stored code) and no safety.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as random_source

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from services.context import Context
from services.store.schema import secret

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})
HMAC_KEY_NAME = "mfa-recovery-hmac-key"


def new_codes(count: int, length: int) -> list[str]:
    return [format_code("".join(random_source.choice(ALPHABET) for _ in range(length)))
            for _ in range(count)]


def format_code(raw: str) -> str:
    """Groups of five with hyphens, easier to read out and type."""
    return "-".join(raw[i:i + 5] for i in range(0, len(raw), 5))


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper().translate(_MISREAD) if ch in ALPHABET)


def _hmac_key(ctx: Context, conn: Connection) -> bytes:
    """The store's recovery-code key, made on first use (once, even if two desktops race)."""
    context = f"secret:{HMAC_KEY_NAME}"
    sealed = conn.execute(select(secret.c.ciphertext).where(secret.c.name == HMAC_KEY_NAME)
                          ).scalar_one_or_none()
    if sealed is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(secret).values(
                    name=HMAC_KEY_NAME, created_at=ctx.now(),
                    ciphertext=ctx.vault.encrypt(random_source.token_bytes(32), context)))
        except IntegrityError:
            pass  # another process made it first: use theirs
        sealed = conn.execute(select(secret.c.ciphertext).where(
            secret.c.name == HMAC_KEY_NAME)).scalar_one()
    return ctx.vault.decrypt(sealed, context)


def code_hash(ctx: Context, conn: Connection, subject: str, code: str) -> str:
    message = f"{subject}:{normalise(code)}".encode()
    return hmac.new(_hmac_key(ctx, conn), message, hashlib.sha256).hexdigest()
