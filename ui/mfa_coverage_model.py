"""MFA coverage per organisation (the campaign report's organisations), as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.mfa.campaign import Coverage


class MfaCoverageModel(RecordTableModel["Coverage"]):
    COLUMNS = ("Organisation", "People", "Enrolled", "Pending", "Overdue", "Locked", "Reset",
               "Coverage")

    def cells(self, record: Coverage) -> tuple[str, ...]:
        return (record.org_name, str(record.total),
                str(record.enrolled), str(record.pending), str(record.overdue),
                str(record.locked), str(record.reset), f"{record.coverage_percent:.1f} %")

    def cell_role(self, record: Coverage, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return record.org_code
        if role == Qt.ItemDataRole.ToolTipRole and column == len(self.COLUMNS) - 1:
            return (f"{record.with_mfa} of {record.total} have an authenticator "
                    "(enrolled or locked)")
        return None
