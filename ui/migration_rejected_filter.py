"""The rejected rows of a plan, filtered by reason and by text (legacy id, organisation,
message) — a proxy, so the plan's list is never copied or re-read."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel

from ui.migration_table_model import SORT_ROLE, MigrationTableModel

REJECTED_COLUMNS = (("row", "Row"), ("line", "Line"), ("legacy_id", "Legacy ID"),
                    ("organisation", "Organisation"), ("reasons", "Reasons"),
                    ("message", "Why"))


class RejectedRowsFilter(QSortFilterProxyModel):
    def __init__(self, source: MigrationTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.setSortRole(SORT_ROLE)
        self._source = source
        self._reason: str | None = None
        self._text = ""

    def set_reason(self, reason: str | None) -> None:
        self.beginFilterChange()
        self._reason = reason or None
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        record = self._source.record_at(row)
        if record is None:
            return False
        if self._reason and self._reason not in record.get("reasons", ()):
            return False
        if self._text:
            haystack = " ".join(str(record.get(k) or "") for k in (
                "legacy_id", "organisation", "message", "row", "line")).casefold()
            return self._text in haystack
        return True
