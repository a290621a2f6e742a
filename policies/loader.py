"""Typed loading of the policy files, with errors that name the file, the key and the reason."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

POLICY_DIR = Path(__file__).resolve().parent


class PolicyError(Exception):
    """A policy file is missing, malformed or holds a value outside its allowed range."""

    exit_code = 2


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise PolicyError(f"{path.name}: the policy file is missing.") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path.name}: not valid TOML ({exc}).") from None


def get_int(data: dict[str, Any], path: Path, key: str, *, minimum: int,
            maximum: int | None = None) -> int:
    section, _, name = key.partition(".")
    value = data.get(section, {}).get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PolicyError(f"{path.name}: {key} must be a whole number, not {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"at least {minimum}" + (f" and at most {maximum}" if maximum is not None else "")
        raise PolicyError(f"{path.name}: {key} is {value}; it must be {bound}.")
    return value


@dataclass(frozen=True)
class IdentityPolicy:
    max_failures: int
    lockout_seconds: int
    lockout_max_seconds: int
    reset_expiry: dict[str, timedelta]  # per purpose: migration, self_service, admin
    reset_max_requests_per_hour: int
    reuse_cooling_off: timedelta = timedelta(days=30)
    email_change_expiry: timedelta = timedelta(hours=24)
    # who ("self", "lso", "platform_admin") → the profile fields they may edit
    profile_editable: dict[str, frozenset[str]] = field(default_factory=dict)


PROFILE_FIELDS = ("given_name", "family_name", "phone", "job_title", "email")
PROFILE_EDITORS = ("self", "lso", "platform_admin")


def _profile_editable(data: dict[str, Any], path: Path) -> dict[str, frozenset[str]]:
    section = data.get("profile", {})
    editable = {}
    for who in PROFILE_EDITORS:
        fields = section.get(who)
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise PolicyError(f"{path.name}: profile.{who} must be a list of field names.")
        unknown = sorted(set(fields) - set(PROFILE_FIELDS))
        if unknown:
            raise PolicyError(f"{path.name}: profile.{who} names unknown fields "
                              f"{', '.join(unknown)}; use {', '.join(PROFILE_FIELDS)}.")
        editable[who] = frozenset(fields)
    return editable


def load_identity_policy(path: Path | None = None) -> IdentityPolicy:
    path = path or POLICY_DIR / "identity.toml"
    data = read_toml(path)
    policy = IdentityPolicy(
        max_failures=get_int(data, path, "signin.max_failures", minimum=1, maximum=100),
        lockout_seconds=get_int(data, path, "signin.lockout_seconds", minimum=1),
        lockout_max_seconds=get_int(data, path, "signin.lockout_max_seconds", minimum=1),
        reset_expiry={
            "migration": timedelta(hours=get_int(
                data, path, "reset.migration_expiry_hours", minimum=1, maximum=24 * 90)),
            "self_service": timedelta(minutes=get_int(
                data, path, "reset.self_service_expiry_minutes", minimum=5, maximum=24 * 60)),
            "admin": timedelta(hours=get_int(
                data, path, "reset.admin_expiry_hours", minimum=1, maximum=24 * 30)),
        },
        reset_max_requests_per_hour=get_int(
            data, path, "reset.max_requests_per_hour", minimum=1, maximum=100),
        reuse_cooling_off=timedelta(days=get_int(
            data, path, "reuse.cooling_off_days", minimum=1, maximum=3650)),
        email_change_expiry=timedelta(hours=get_int(
            data, path, "email_change.expiry_hours", minimum=1, maximum=24 * 14)),
        profile_editable=_profile_editable(data, path),
    )
    if policy.lockout_max_seconds < policy.lockout_seconds:
        raise PolicyError(
            f"{path.name}: signin.lockout_max_seconds must not be below signin.lockout_seconds."
        )
    return policy
