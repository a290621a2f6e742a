"""The curated client-capability table (``resources/tls/client-capabilities.csv``).

Each row says, for one client, the first version with TLS 1.2 on by default and the first
with TLS 1.3, what earlier versions do, and where that comes from (caniuse, SSL Labs and
testssl.sh client captures), disagreements between sources included. Verdicts cite the row
they used.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from services.errors import InvalidInput

TABLE_PATH = Path(__file__).resolve().parents[2] / "resources" / "tls" / "client-capabilities.csv"
_COLUMNS = ("id", "client", "kind", "version_scheme", "tls12_default_from", "tls13_from",
            "earlier_versions", "sources", "disagreements")
_KINDS = frozenset({"browser", "api", "library", "os"})

Version = tuple[int, ...]


def parse_version(text: str) -> Version:
    """``"1.0.1f"`` → ``(1, 0, 1)``; ``"4.4.2"`` → ``(4, 4, 2)``; no digits → ``()``."""
    return tuple(int(part) for part in re.findall(r"\d+", text)[:4])


@dataclass(frozen=True)
class CapabilityRow:
    id: str
    client: str
    kind: str
    version_scheme: str
    tls12_default_from: str  # "" = never on by default
    tls13_from: str  # "" = never
    earlier_versions: str
    sources: str
    disagreements: str

    def has_tls12(self, version: Version) -> bool:
        """Whether this version has TLS 1.2 on by default (an unknown version counts as no)."""
        first = parse_version(self.tls12_default_from)
        return bool(first) and bool(version) and version >= first

    def has_tls13(self, version: Version) -> bool:
        first = parse_version(self.tls13_from)
        return bool(first) and bool(version) and version >= first

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in _COLUMNS}


class CapabilityTable:
    """The rows by id; :meth:`row` refuses an id the table does not hold."""

    def __init__(self, rows: dict[str, CapabilityRow], source: Path) -> None:
        self.rows = rows
        self.source = source

    def row(self, row_id: str) -> CapabilityRow:
        try:
            return self.rows[row_id]
        except KeyError:
            raise InvalidInput(f"{self.source.name} has no row {row_id!r}; restore the shipped "
                               "table or add the row.") from None


def load_capabilities(path: Path | None = None) -> CapabilityTable:
    """Read and check the table; errors name the file, the line and the reason."""
    path = path or TABLE_PATH
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != _COLUMNS:
                raise InvalidInput(f"{path.name}: the header must be {','.join(_COLUMNS)}.")
            rows: dict[str, CapabilityRow] = {}
            for record in reader:
                line = reader.line_num
                if None in record or any(record.get(c) is None for c in _COLUMNS):
                    raise InvalidInput(f"{path.name} line {line}: expected {len(_COLUMNS)} "
                                       "fields; quote any field that holds a comma.")
                row = CapabilityRow(**{c: record[c].strip() for c in _COLUMNS})
                if not row.id or row.id in rows:
                    raise InvalidInput(f"{path.name} line {line}: id {row.id!r} is empty or "
                                       "repeated.")
                if row.kind not in _KINDS:
                    raise InvalidInput(f"{path.name} line {line}: kind {row.kind!r} is not one "
                                       f"of {', '.join(sorted(_KINDS))}.")
                for column in ("tls12_default_from", "tls13_from"):
                    value = getattr(row, column)
                    if value and not parse_version(value):
                        raise InvalidInput(f"{path.name} line {line}: {column} {value!r} is not "
                                           "a version; leave it empty for never.")
                if not row.sources:
                    raise InvalidInput(f"{path.name} line {line}: every row needs its sources.")
                rows[row.id] = row
    except FileNotFoundError:
        raise InvalidInput(f"The client-capability table {path} is missing; reinstall "
                           "Gatehouse.") from None
    return CapabilityTable(rows, path)


@functools.cache
def default_capabilities() -> CapabilityTable:
    return load_capabilities()
