"""The Browsers tab's table: one row per distinct User-Agent with its verdict and reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

from ui.compliance_colours import verdict_colour
from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.compliance.browsers import ClientVerdict


@dataclass(frozen=True)
class BrowserRow:
    verdict: ClientVerdict
    count: int


class BrowserVerdictModel(RecordTableModel[BrowserRow]):
    COLUMNS = ("Verdict", "Count", "Client", "Reason", "User-Agent")

    def cells(self, record: BrowserRow) -> tuple[str, ...]:
        v = record.verdict
        return (v.verdict.value.replace("_", " "), str(record.count),
                v.client or "unrecognised", v.reason, v.user_agent)

    def cell_role(self, record: BrowserRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            return verdict_colour(record.verdict.verdict.value)
        if role == Qt.ItemDataRole.ToolTipRole and column in (3, 4):
            return self.cells(record)[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
