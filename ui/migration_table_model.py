"""A table over plain dictionaries — the shape every migration service hands back (plan
sections, report rows, run status, progress rows) — with its columns named by key.

Numbers are right-aligned and shown with thousands separators; the raw value is the sort
value (``SORT_ROLE``), so a proxy sorts 1,000 after 999.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt

from ui.record_table_model import RecordTableModel

SORT_ROLE = Qt.ItemDataRole.UserRole + 1


def cell_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


class MigrationTableModel(RecordTableModel[dict[str, Any]]):
    """``columns``: (key, title) pairs in display order."""

    def __init__(self, columns: Sequence[tuple[str, str]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.keys = tuple(key for key, _title in columns)
        self.COLUMNS = tuple(title for _key, title in columns)

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self._records)

    def value(self, row: int, key: str) -> Any:
        record = self.record_at(row)
        return None if record is None else record.get(key)

    def cells(self, record: dict[str, Any]) -> tuple[str, ...]:
        return tuple(cell_text(record.get(key)) for key in self.keys)

    def cell_role(self, record: dict[str, Any], column: int, role: int) -> Any:
        value = record.get(self.keys[column])
        if role == SORT_ROLE:
            return value if isinstance(value, int | float | str) else cell_text(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, int) \
                and not isinstance(value, bool):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = cell_text(value)
            return text if len(text) > 40 else None
        return None
