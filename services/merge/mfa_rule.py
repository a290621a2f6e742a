"""Which merged identities must be enrolled in MFA: those holding a Gatehouse role that the
MFA policy (``policies/mfa.toml``, enforcement.required_roles) names — programme decision 5,
MFA for privileged users."""

from __future__ import annotations

from collections.abc import Iterable

from policies.mfa_policy import MfaPolicy, load_mfa_policy
from services.store.schema import TOOL_PRODUCT


def mfa_required(roles: Iterable[str], policy: MfaPolicy | None = None) -> bool:
    """True if any of ``roles`` ("PRODUCT:role") requires the holder to use MFA."""
    required = (policy or load_mfa_policy()).required_roles
    return any(role.partition(":")[0] == TOOL_PRODUCT and role.partition(":")[2] in required
               for role in roles)
