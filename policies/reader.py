"""Typed access to one parsed policy file, shared by the policy loaders: every error names the
file and the key, and says what to write instead."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from policies.loader import PolicyError


class PolicyReader:
    """``shipped`` names the file that shows every key (e.g. ``policies/mfa.toml``)."""

    shipped = "the shipped policy file"

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.data = data
        self.path = path

    def fail(self, key: str, reason: str) -> PolicyError:
        return PolicyError(f"{self.path.name}: {key} {reason}")

    def raw(self, key: str) -> Any:
        """The value at a dotted key (``section.name``, or deeper)."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise self.fail(key, f"is missing; add it (see {self.shipped}).")
            node = node[part]
        return node

    def whole_number(self, key: str, value: Any, *, minimum: int,
                     maximum: int | None = None) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, f"must be a whole number, not {value!r}.")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"at least {minimum}" + (f" and at most {maximum}" if maximum is not None
                                            else "")
            raise self.fail(key, f"is {value}; it must be {bound}.")
        return value

    def integer(self, key: str, *, minimum: int, maximum: int | None = None) -> int:
        return self.whole_number(key, self.raw(key), minimum=minimum, maximum=maximum)

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}.")
        return value

    def check_known_keys(self, schema: Mapping[str, Collection[str]], *,
                         top_level: Collection[str] = ("name",),
                         open_tables: Collection[str] = ()) -> None:
        """Refuse a misspelt section or key: a typo must not silently fall back to nothing.

        ``top_level`` are plain keys outside any section; the keys of ``open_tables`` are
        data (e.g. organisation codes), not names to check.
        """
        for section, value in self.data.items():
            if section in top_level:
                continue
            if section not in schema:
                raise self.fail(section, "is not a known section; check the spelling "
                                f"(known: {', '.join(sorted(schema))}).")
            if not isinstance(value, dict):
                raise self.fail(section, "must be a table ([section]).")
            if section in open_tables:
                continue
            for key in value:
                if key not in schema[section]:
                    raise self.fail(f"{section}.{key}", "is not a known key; check the "
                                    f"spelling (known: {', '.join(sorted(schema[section]))}).")
