"""Each targeted person of the MFA report, with a proxy that filters by status."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel

from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.mfa.campaign import ReportRow

STATUS_TEXT = {"enrolled": "Enrolled", "pending": "Pending", "overdue": "Overdue",
               "locked": "Locked", "reset": "Reset"}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


class MfaPeopleModel(RecordTableModel["ReportRow"]):
    COLUMNS = ("Name", "Login ID", "Organisation", "Roles", "Status", "Enrol by", "Enrolled",
               "Locked until", "Reset")
    STATUS_COLUMN = 4

    def cells(self, record: ReportRow) -> tuple[str, ...]:
        return (f"{record.given_name} {record.family_name}", record.login_id, record.org_code,
                ", ".join(record.roles), STATUS_TEXT.get(record.status, record.status),
                _when(record.enrol_by), _when(record.enrolled_at), _when(record.locked_until),
                _when(record.reset_at))

    def cell_role(self, record: ReportRow, column: int, role: int) -> Any:
        return None


class MfaStatusFilter(QSortFilterProxyModel):
    """Shows the people with one report status (None: everyone)."""

    def __init__(self, source: MfaPeopleModel) -> None:
        super().__init__(source)
        self._people = source
        self.status: str | None = None
        self.setSourceModel(source)

    def set_status(self, status: str | None) -> None:
        self.beginFilterChange()
        self.status = status
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self.status is None:
            return True
        record = self._people.record_at(source_row)
        return record is not None and record.status == self.status
