"""The Client test tab's live list: one row per client that connected to the endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt

from ui.compliance_colours import verdict_colour
from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.compliance.client_endpoint import ClientRecord

MAX_ROWS = 1000  # the endpoint keeps as many; older rows scroll away


class ClientRecordModel(RecordTableModel["ClientRecord"]):
    COLUMNS = ("Time", "Client", "Verdict", "Offered", "Negotiated", "SNI", "User-Agent")

    def add(self, record: ClientRecord) -> None:
        """Append one client (newest last), dropping the oldest beyond ``MAX_ROWS``."""
        if len(self._records) >= MAX_ROWS:
            self.beginRemoveRows(QModelIndex(), 0, 0)
            del self._records[0]
            self.endRemoveRows()
        row = len(self._records)
        self.beginInsertRows(QModelIndex(), row, row)
        self._records.append(record)
        self.endInsertRows()

    def cells(self, record: ClientRecord) -> tuple[str, ...]:
        negotiated = f"{record.negotiated_version} {record.negotiated_cipher}".strip()
        if not negotiated:
            negotiated = "local limitation" if record.local_limitation else "failed"
        return (record.at[11:19], record.peer, record.verdict.replace("_", " "),
                record.highest_offered or "—", negotiated, record.server_name or "—",
                record.user_agent or "—")

    def cell_role(self, record: ClientRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            return verdict_colour(record.verdict)
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join([*record.reasons, record.handshake_detail])
        return None
