"""CLI: one identity per person — merge one person's accounts, delete and restore, and give a
deleted account's login ID to someone new after its cooling-off.

The ``identity`` group's commands come from two modules: merging (``identity_merge``) and the
lifecycle of a login ID (``identity_lifecycle``).
"""

from __future__ import annotations

from services.cli import identity_lifecycle, identity_merge
from services.cli.common import Groups


def register(cli: Groups) -> None:
    group = cli.group("identity", "one identity per person: merge accounts, delete, restore, "
                                  "reuse a deleted login ID")
    identity_merge.add_commands(cli, group)
    identity_lifecycle.add_commands(cli, group)
