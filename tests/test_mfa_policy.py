"""policies/mfa.toml and its typed loader: the shipped defaults, and errors that name the
file, the key and the reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from policies import PolicyError, load_mfa_policy
from policies.loader import POLICY_DIR

SHIPPED = (POLICY_DIR / "mfa.toml").read_text()


def test_the_shipped_policy() -> None:
    policy = load_mfa_policy()
    assert policy.required_roles == {"lso", "platform_admin"}
    assert policy.grace == timedelta(days=14)
    assert (policy.algorithm, policy.digits, policy.period_seconds) == ("SHA1", 6, 30)
    assert policy.allowed_algorithms == ("SHA1", "SHA256", "SHA512")
    assert policy.allowed_digits == (6, 8) and policy.allowed_periods == (30, 60)
    assert policy.window_steps == 1
    assert policy.failures_before_lockout == 5
    assert [policy.lockout_delay(n).total_seconds() for n in range(8)] == [
        60, 120, 240, 480, 960, 1920, 3600, 3600]  # growing, up to the ceiling
    assert (policy.recovery_count, policy.recovery_length) == (10, 10)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("digits = 6\n", "digits = 7\n", "mfa.toml: totp.digits is 7; it must be one of 6, 8."),
    ("window_steps = 1", "window_steps = 2",
     "mfa.toml: totp.window_steps is 2; it must be at least 0 and at most 1."),
    ('required_roles = ["lso", "platform_admin"]', 'required_roles = ["lso", "admin"]',
     "mfa.toml: enforcement.required_roles holds 'admin', which is not a role"),
    ('algorithm = "SHA1"', 'algorithm = "MD5"', "mfa.toml: totp.algorithm is 'MD5'"),
    ("grace_days = 14", "grace_days = 14\nsnooze_days = 3",
     "mfa.toml: enforcement.snooze_days is not a known key"),
    ("length = 10", "length = 6", "mfa.toml: recovery.length is 6; it must be at least 10"),
    ("failures_before_lockout = 5\n", "",
     "mfa.toml: lockout.failures_before_lockout is missing"),
    ("lockout_max_seconds = 3600", "lockout_max_seconds = 30",
     "mfa.toml: lockout.lockout_max_seconds must not be below lockout.lockout_seconds."),
])
def test_errors_name_the_file_key_and_reason(tmp_path: Path, old: str, new: str,
                                              message: str) -> None:
    assert old in SHIPPED
    path = tmp_path / "mfa.toml"
    path.write_text(SHIPPED.replace(old, new, 1))
    with pytest.raises(PolicyError) as error:
        load_mfa_policy(path)
    assert str(error.value).startswith(message)
