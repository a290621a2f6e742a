"""The Audit table: the latest events, newest first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

if TYPE_CHECKING:
    from services.audit_trail import AuditEntry

ModelIndex = QModelIndex | QPersistentModelIndex

COLUMNS = ("#", "When (UTC)", "Who", "Action", "Target", "Result", "Reason")


def change_text(entry: AuditEntry) -> str:
    """Before and after values, one line each, for the tooltip and the detail line."""
    parts = []
    if entry.before:
        parts.append("before: " + json.dumps(entry.before, ensure_ascii=False, sort_keys=True))
    if entry.after:
        parts.append("after: " + json.dumps(entry.after, ensure_ascii=False, sort_keys=True))
    return "\n".join(parts)


class AuditModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._events: list[AuditEntry] = []

    def set_events(self, events: list[AuditEntry]) -> None:
        self.beginResetModel()
        self._events = list(events)
        self.endResetModel()

    def event_at(self, row: int) -> AuditEntry | None:
        return self._events[row] if 0 <= row < len(self._events) else None

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt idiom)
        return 0 if parent.isValid() else len(self._events)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.event_at(index.row())
        if entry is None or not 0 <= index.column() < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return change_text(entry) or None
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return (
            str(entry.seq),
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor,
            entry.action,
            f"{entry.target_type} {entry.target_id}",
            entry.result,
            entry.reason,
        )[index.column()]
