"""The two account lists of the merge wizard's first step: search results, and the accounts
chosen for the merge (the survivor first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

from ui.record_table_model import RecordTableModel
from ui.users_model import STATUS_TEXT

if TYPE_CHECKING:
    from services.users import IdentitySummary


class AccountResultsModel(RecordTableModel["IdentitySummary"]):
    COLUMNS = ("Login ID", "Name", "Organisation", "Status")

    def cells(self, record: IdentitySummary) -> tuple[str, ...]:
        return (record.login_id, f"{record.family_name}, {record.given_name}", record.org_code,
                STATUS_TEXT.get(record.status, record.status))


class ChosenAccountsModel(RecordTableModel["IdentitySummary"]):
    """The accounts to merge; row 0 is the survivor, whose login ID and subject id are kept."""

    COLUMNS = ("Role in merge", "Login ID", "Name", "Organisation")

    def cells(self, record: IdentitySummary) -> tuple[str, ...]:
        survivor = bool(self._records) and self._records[0].subject == record.subject
        return ("Survivor (kept)" if survivor else "Absorbed", record.login_id,
                f"{record.family_name}, {record.given_name}", record.org_code)

    def cell_role(self, record: IdentitySummary, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.FontRole and column == 0 and self._records \
                and self._records[0].subject == record.subject:
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        return None

    @property
    def records(self) -> list[IdentitySummary]:
        return list(self._records)

    @property
    def subjects(self) -> list[str]:
        return [r.subject for r in self._records]

    def add(self, record: IdentitySummary) -> bool:
        """Add an account (once); False if it is already chosen."""
        if record.subject in self.subjects:
            return False
        self.set_records([*self._records, record])
        return True

    def remove(self, row: int) -> None:
        if 0 <= row < len(self._records):
            self.set_records(self._records[:row] + self._records[row + 1:])

    def make_survivor(self, row: int) -> None:
        if 0 < row < len(self._records):
            rest = self._records[:row] + self._records[row + 1:]
            self.set_records([self._records[row], *rest])
