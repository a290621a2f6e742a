"""CLI: the ``identity`` group's commands for lifecycle (registered by ``identity``)."""

from __future__ import annotations

from typing import Any

from services.cli.common import Groups


def add_commands(cli: Groups, group: Any) -> None:
    pass
