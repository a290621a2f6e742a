"""RFC 6238 time-based one-time passwords through pyotp, against the injected clock.

pyotp does not remember which codes were used; ``match_step`` returns the time step a code
belongs to (``verify_and_get_timecode``) so that the engine can refuse any step not later than
the last accepted one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pyotp
from pyotp.exceptions import OTPVerificationError

ISSUER = "Gatehouse"
_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def new_secret() -> str:
    """160 random bits from the OS CSPRNG, base32 (RFC 4226 s4 recommends 160)."""
    return pyotp.random_base32()


def _totp(secret_b32: str, algorithm: str, digits: int, period: int) -> pyotp.TOTP:
    return pyotp.TOTP(secret_b32, digits=digits, digest=_DIGESTS[algorithm], interval=period)


def normalise_code(code: str | None) -> str:
    """Digits only: people type codes with spaces ("123 456")."""
    return "".join((code or "").split())


def match_step(secret_b32: str, code: str | None, at: datetime, *, algorithm: str,
               digits: int, period: int, window: int) -> int | None:
    """The time step of ``code`` within ``window`` steps of ``at``, or None if it matches none."""
    typed = normalise_code(code)
    if len(typed) != digits or not typed.isdigit():
        return None
    # pyotp refuses negative counters: in the first steps after 1970 the window narrows.
    window = min(window, step_of(at, period))
    try:
        return _totp(secret_b32, algorithm, digits, period).verify_and_get_timecode(
            typed, for_time=at, valid_window=window)
    except OTPVerificationError:
        return None


def code_at(secret_b32: str, at: datetime, *, algorithm: str, digits: int, period: int) -> str:
    """The code an authenticator shows at ``at`` (for tests and the demo, never for display)."""
    return _totp(secret_b32, algorithm, digits, period).at(at)


def provisioning_uri(secret_b32: str, login_id: str, *, algorithm: str, digits: int,
                     period: int) -> str:
    """The ``otpauth://`` URI (Google Authenticator key-URI format) with issuer and login ID."""
    return _totp(secret_b32, algorithm, digits, period).provisioning_uri(
        name=login_id, issuer_name=ISSUER)


def step_of(at: datetime, period: int) -> int:
    return int(at.timestamp()) // period
