"""Password expiry — off in the updated policy (NIST SP 800-63B-4 3.1.1.2: no periodic
change, only on evidence of compromise), kept for the legacy policy's 90 days."""

from __future__ import annotations

from datetime import datetime, timedelta

from policies.password_policy import PasswordPolicy


def expires_at(policy: PasswordPolicy, changed_at: datetime) -> datetime | None:
    """When a password set at ``changed_at`` expires, or None when the policy has no expiry."""
    if not policy.expiry_days:
        return None
    return changed_at + timedelta(days=policy.expiry_days)


def is_expired(policy: PasswordPolicy, changed_at: datetime | None, now: datetime) -> bool:
    if changed_at is None:
        return False
    deadline = expires_at(policy, changed_at)
    return deadline is not None and now >= deadline
