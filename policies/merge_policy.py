"""The merge rules as reviewed data: the ``[merge]`` table of ``identity.toml`` and its loader.

Errors name the file, the key and the reason, like every policy loader here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from policies.loader import POLICY_DIR, PolicyError, read_toml

_ROLE = re.compile(r"^[A-Z0-9]{2,16}:[a-z0-9_]{1,64}$")


@dataclass(frozen=True)
class MergePolicy:
    # Each pair: two "PRODUCT:role" texts that a merged identity may not hold together.
    exclusive_roles: tuple[tuple[str, str], ...]

    def exclusive_with(self, role: str) -> tuple[str, ...]:
        return tuple(b if a == role else a for a, b in self.exclusive_roles if role in (a, b))


def load_merge_policy(path: Path | None = None) -> MergePolicy:
    path = path or POLICY_DIR / "identity.toml"
    data = read_toml(path)
    table = data.get("merge")
    if not isinstance(table, dict):
        raise PolicyError(f"{path.name}: the [merge] table is missing.")
    unknown = sorted(set(table) - {"exclusive_roles"})
    if unknown:
        raise PolicyError(f"{path.name}: merge.{unknown[0]} is not a known setting; remove it "
                          "or correct its spelling.")
    raw = table.get("exclusive_roles", [])
    if not isinstance(raw, list):
        raise PolicyError(f"{path.name}: merge.exclusive_roles must be a list of role pairs.")
    pairs: list[tuple[str, str]] = []
    for n, pair in enumerate(raw, 1):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(r, str) and _ROLE.match(r) for r in pair)):
            raise PolicyError(f"{path.name}: merge.exclusive_roles entry {n} is {pair!r}; it "
                              "must be two roles written PRODUCT:role, e.g. "
                              '["GATEHOUSE:platform_admin", "GATEHOUSE:security_reviewer"].')
        if pair[0] == pair[1]:
            raise PolicyError(f"{path.name}: merge.exclusive_roles entry {n} pairs {pair[0]} "
                              "with itself; name two different roles.")
        first, second = sorted(pair)
        if (first, second) not in pairs:
            pairs.append((first, second))
    return MergePolicy(exclusive_roles=tuple(pairs))
