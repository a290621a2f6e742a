"""The rules as reviewed data (TOML files beside this module) and the typed loader for them."""

from policies.loader import IdentityPolicy, PolicyError, load_identity_policy
from policies.password_policy import PasswordPolicy, load_password_policy

__all__ = ["IdentityPolicy", "PasswordPolicy", "PolicyError", "load_identity_policy",
           "load_password_policy"]
