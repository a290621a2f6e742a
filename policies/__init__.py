"""The rules as reviewed data (TOML files beside this module) and the typed loader for them."""

from policies.loader import IdentityPolicy, PolicyError, load_identity_policy
from policies.mfa_policy import MfaPolicy, load_mfa_policy
from policies.migration_policy import MigrationPolicy, load_migration_policy
from policies.password_policy import PasswordPolicy, load_password_policy

__all__ = ["IdentityPolicy", "MfaPolicy", "MigrationPolicy", "PasswordPolicy", "PolicyError",
           "load_identity_policy", "load_mfa_policy", "load_migration_policy",
           "load_password_policy"]
