"""The MFA policy as reviewed data: ``mfa.toml`` and its typed loader.

Every error names the file, the key and the reason, e.g.
``mfa.toml: totp.digits is 7; it must be one of 6, 8.`` Unknown sections and keys are refused,
so that a misspelt rule is never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from policies.loader import POLICY_DIR, read_toml
from policies.reader import PolicyReader

ROLES = ("platform_admin", "lso", "security_reviewer", "user")
ALGORITHMS = ("SHA1", "SHA256", "SHA512")  # RFC 6238 section 1.2
DIGITS = (6, 8)
PERIODS = (30, 60)

_SCHEMA: dict[str, frozenset[str]] = {
    "enforcement": frozenset({"required_roles", "grace_days"}),
    "totp": frozenset({"algorithm", "digits", "period_seconds", "allowed_algorithms",
                       "allowed_digits", "allowed_periods", "window_steps"}),
    "lockout": frozenset({"failures_before_lockout", "lockout_seconds", "growth_factor",
                          "lockout_max_seconds"}),
    "recovery": frozenset({"count", "length", "reenrol_when_left"}),
    "session": frozenset({"cli_session_minutes", "code_step_minutes"}),
}


@dataclass(frozen=True)
class MfaPolicy:
    """The MFA rule, validated. Build it with :func:`load_mfa_policy`."""

    required_roles: frozenset[str]
    grace: timedelta
    algorithm: str
    digits: int
    period_seconds: int
    allowed_algorithms: tuple[str, ...]
    allowed_digits: tuple[int, ...]
    allowed_periods: tuple[int, ...]
    window_steps: int
    failures_before_lockout: int
    lockout_seconds: int
    growth_factor: int
    lockout_max_seconds: int
    recovery_count: int
    recovery_length: int
    reenrol_when_left: int
    cli_session: timedelta
    code_step: timedelta

    def lockout_delay(self, lockouts_before: int) -> timedelta:
        """The pause after a lockout, growing with each lockout since the last success."""
        seconds = self.lockout_seconds * self.growth_factor ** min(lockouts_before, 30)
        return timedelta(seconds=min(seconds, self.lockout_max_seconds))


class _Reader(PolicyReader):
    shipped = "policies/mfa.toml"

    def choice(self, key: str, known: tuple[Any, ...]) -> Any:
        value = self.raw(key)
        if value not in known or isinstance(value, bool):
            raise self.fail(key, f"is {value!r}; it must be one of "
                            f"{', '.join(map(str, known))}.")
        return value

    def choices(self, key: str, known: tuple[Any, ...]) -> tuple[Any, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"must be a non-empty list drawn from "
                            f"{', '.join(map(str, known))}.")
        for item in value:
            if item not in known or isinstance(item, bool):
                raise self.fail(key, f"holds {item!r}, which is not allowed; use "
                                f"{', '.join(map(str, known))}.")
        return tuple(dict.fromkeys(value))


def load_mfa_policy(path: Path | None = None) -> MfaPolicy:
    """Read and validate an MFA policy file (default: the shipped ``mfa.toml``)."""
    path = path or POLICY_DIR / "mfa.toml"
    r = _Reader(read_toml(path), path)
    r.check_known_keys(_SCHEMA)
    roles = r.raw("enforcement.required_roles")
    if not isinstance(roles, list) or not all(isinstance(v, str) for v in roles):
        raise r.fail("enforcement.required_roles", "must be a list of role names.")
    for role in roles:
        if role not in ROLES:
            raise r.fail("enforcement.required_roles", f"holds {role!r}, which is not a role "
                         f"of Gatehouse; use {', '.join(ROLES)}.")
    allowed_algorithms = r.choices("totp.allowed_algorithms", ALGORITHMS)
    allowed_digits = r.choices("totp.allowed_digits", DIGITS)
    allowed_periods = r.choices("totp.allowed_periods", PERIODS)
    algorithm = r.choice("totp.algorithm", allowed_algorithms)
    digits = r.choice("totp.digits", allowed_digits)
    period = r.choice("totp.period_seconds", allowed_periods)
    lockout_seconds = r.integer("lockout.lockout_seconds", minimum=1, maximum=86_400)
    lockout_max = r.integer("lockout.lockout_max_seconds", minimum=1, maximum=7 * 86_400)
    if lockout_max < lockout_seconds:
        raise r.fail("lockout.lockout_max_seconds", "must not be below "
                     "lockout.lockout_seconds.")
    count = r.integer("recovery.count", minimum=1, maximum=50)
    return MfaPolicy(
        required_roles=frozenset(roles),
        grace=timedelta(days=r.integer("enforcement.grace_days", minimum=0, maximum=365)),
        algorithm=str(algorithm),
        digits=int(digits),
        period_seconds=int(period),
        allowed_algorithms=tuple(map(str, allowed_algorithms)),
        allowed_digits=tuple(map(int, allowed_digits)),
        allowed_periods=tuple(map(int, allowed_periods)),
        # RFC 6238 section 5.2 and NIST 800-63B: at most one step either side.
        window_steps=r.integer("totp.window_steps", minimum=0, maximum=1),
        # NIST 800-63B 5.2.2: no more than 100 consecutive failed attempts.
        failures_before_lockout=r.integer("lockout.failures_before_lockout", minimum=1,
                                          maximum=100),
        lockout_seconds=lockout_seconds,
        growth_factor=r.integer("lockout.growth_factor", minimum=1, maximum=10),
        lockout_max_seconds=lockout_max,
        recovery_count=count,
        # 10 characters of a 32-symbol alphabet are 50 bits; fewer would make online guessing
        # within the lockout budget too likely.
        recovery_length=r.integer("recovery.length", minimum=10, maximum=32),
        reenrol_when_left=r.integer("recovery.reenrol_when_left", minimum=0, maximum=count),
        cli_session=timedelta(minutes=r.integer("session.cli_session_minutes", minimum=1,
                                                maximum=12 * 60)),
        code_step=timedelta(minutes=r.integer("session.code_step_minutes", minimum=1,
                                              maximum=60)),
    )
