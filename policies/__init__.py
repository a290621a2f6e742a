"""The rules as reviewed data (TOML files beside this module) and the typed loader for them."""

from policies.loader import IdentityPolicy, PolicyError, load_identity_policy

__all__ = ["IdentityPolicy", "PolicyError", "load_identity_policy"]
