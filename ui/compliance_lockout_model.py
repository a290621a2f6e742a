"""The Logs tab's lock-out tables: organisations (with their LSO contacts) and, for the
organisation chosen, its users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.compliance.lockout import OrgLockout, UserEntry

_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class OrgLockoutModel(RecordTableModel["OrgLockout"]):
    COLUMNS = ("Organisation", "Name", "Requests", "Below TLS 1.2", "Non-compliant client",
               "Users", "LSO contacts")

    def cells(self, record: OrgLockout) -> tuple[str, ...]:
        contacts = ", ".join(c.email for c in record.contacts) or "none on record"
        return (record.code or "(unmapped)", record.name, f"{record.requests:,}",
                f"{record.legacy_tls:,}", f"{record.non_compliant_client:,}",
                str(len(record.users)), contacts)

    def cell_role(self, record: OrgLockout, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= column <= 5:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and column == 6:
            return "\n".join(f"{c.name} <{c.email}>" for c in record.contacts) or None
        return None


class LockoutUserModel(RecordTableModel["UserEntry"]):
    COLUMNS = ("User", "Mapped by", "Requests", "Below TLS 1.2", "Non-compliant client",
               "Clients")

    def cells(self, record: UserEntry) -> tuple[str, ...]:
        lockout = record.lockout
        clients = "; ".join(ua for ua, _ in lockout.user_agents.most_common(3))
        return (record.user, {"store": "identity store", "ip_range": "address range"}.get(
                    record.mapped_by, "—"), f"{lockout.requests:,}", f"{lockout.legacy_tls:,}",
                f"{lockout.non_compliant_client:,}", clients)

    def cell_role(self, record: UserEntry, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= column <= 4:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and column == 5:
            return self.cells(record)[5]
        return None
