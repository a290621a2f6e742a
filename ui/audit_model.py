"""The Audit table: the latest events, newest first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.audit_trail import AuditEntry

COLUMNS = ("#", "When (UTC)", "Who", "Action", "Target", "Result", "Reason")


def change_text(entry: AuditEntry) -> str:
    """Before and after values, one line each, for the tooltip and the detail line."""
    parts = []
    if entry.before:
        parts.append("before: " + json.dumps(entry.before, ensure_ascii=False, sort_keys=True))
    if entry.after:
        parts.append("after: " + json.dumps(entry.after, ensure_ascii=False, sort_keys=True))
    return "\n".join(parts)


class AuditModel(RecordTableModel["AuditEntry"]):
    COLUMNS = COLUMNS

    def cells(self, record: AuditEntry) -> tuple[str, ...]:
        return (
            str(record.seq),
            record.at.strftime("%Y-%m-%d %H:%M:%S"),
            record.actor,
            record.action,
            f"{record.target_type} {record.target_id}",
            record.result,
            record.reason,
        )

    def cell_role(self, record: AuditEntry, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            return change_text(record) or None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
