"""The reset-request queue as a table, and the filter that hides decided requests.

A queue holds tens to thousands of requests, read whole by ``services.intake.list_queue``; the
proxy filters on the status and sorts on a typed sort role (numbers as numbers, times in UTC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.intake import IntakeItem

ModelIndex = QModelIndex | QPersistentModelIndex

COLUMNS = ("#", "Received (UTC)", "From", "Subject", "Flags", "Identity", "Status")
FLAGS_COLUMN = 4
IDENTITY_COLUMN = 5
ITEM_ID_ROLE = Qt.ItemDataRole.UserRole.value + 1
SORT_ROLE = Qt.ItemDataRole.UserRole.value + 2

FLAG_TEXT = {"malformed": "Malformed", "unmatched": "Unmatched", "duplicate": "Duplicate",
             "spoofed": "Spoofed"}
# What each flag means and what to do about it (services.intake sets them).
FLAG_EXPLANATION = {
    "spoofed": "Spoofed: the receiving mail server reports that the sender's domain failed "
               "SPF or DMARC, so the message may not come from this person. Check with them "
               "another way (a phone call to a known number) before approving.",
    "malformed": "Malformed: the message could not be read properly, so its sender or "
                 "subject cannot be trusted. Check with the person another way before "
                 "approving.",
    "unmatched": "Unmatched: no live identity uses the sender's address, so there is nobody "
                 "to send a reset to. Reject it, or ask the person to write from the address "
                 "they sign in with.",
    "duplicate": "Duplicate: another queued message has the same Message-ID or the same "
                 "content. Approve at most one of them.",
}
STATUS_TEXT = {"pending": "Pending", "approved": "Approved", "rejected": "Rejected"}
RISKY = frozenset({"spoofed", "malformed"})  # services.intake.FORCE_REQUIRED
_RISKY_COLOUR = QColor("#a61b1b")
_FLAG_COLOUR = QColor("#8a5300")
_DECIDED_COLOUR = QColor("#7b8794")


def flags_text(flags: tuple[str, ...]) -> str:
    return ", ".join(FLAG_TEXT.get(f, f) for f in flags)


class IntakeModel(RecordTableModel["IntakeItem"]):
    COLUMNS = COLUMNS

    def set_items(self, items: list[IntakeItem]) -> None:
        self.set_records(items)

    def item_at(self, row: int) -> IntakeItem | None:
        return self.record_at(row)

    def row_of(self, item_id: int) -> int | None:
        return next((row for row, item in enumerate(self._records) if item.id == item_id), None)

    def replace_item(self, item: IntakeItem) -> None:
        """A decision made here: show the item as the service returned it."""
        row = self.row_of(item.id)
        if row is None:
            return
        self._records[row] = item
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    @property
    def pending(self) -> int:
        return sum(item.status == "pending" for item in self._records)

    def cells(self, record: IntakeItem) -> tuple[str, ...]:
        return (str(record.id), record.received_at.strftime("%Y-%m-%d %H:%M"),
                record.from_address or "(no sender)", record.subject_line or "(no subject)",
                flags_text(record.flags), record.matched_login_id or "No match",
                STATUS_TEXT.get(record.status, record.status))

    def cell_role(self, record: IntakeItem, column: int, role: int) -> Any:
        if role == ITEM_ID_ROLE:
            return record.id
        if role == SORT_ROLE:
            if column == 0:
                return record.id
            if column == 1:
                return record.received_at.isoformat()
            return self.cells(record)[column].casefold()
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == FLAGS_COLUMN and record.flags:
                return "\n\n".join(FLAG_EXPLANATION.get(f, f) for f in record.flags)
            if column == IDENTITY_COLUMN and record.matched_subject is None:
                return FLAG_EXPLANATION["unmatched"]
            return self.cells(record)[column] or None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == FLAGS_COLUMN and record.flags:
                return _RISKY_COLOUR if RISKY & set(record.flags) else _FLAG_COLOUR
            if record.status != "pending":
                return _DECIDED_COLOUR
        return None


class IntakeProxyModel(QSortFilterProxyModel):
    """Pending requests only, unless ``show_decided``."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._show_decided = False
        self.setSortRole(SORT_ROLE)

    @property
    def show_decided(self) -> bool:
        return self._show_decided

    def set_show_decided(self, shown: bool) -> None:
        if shown != self._show_decided:
            self.beginFilterChange()
            self._show_decided = shown
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        if self._show_decided:
            return True
        source = self.sourceModel()
        if not isinstance(source, IntakeModel):
            return True
        item = source.item_at(source_row)
        return item is not None and item.status == "pending"
