"""The Servers tab's matrix: one row per target, a coloured cell per protocol (SSL 3.0 to
TLS 1.3), the verdict and the certificate's expiry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

from policies.tls_policy import PROTOCOLS
from ui.compliance_colours import BAD, GOOD, MUTED, protocol_fill
from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.compliance.tls_probe import ServerReport

_ALLOWED = frozenset({"TLSv1.2", "TLSv1.3"})
_SHOWN = {"accepted": "accepted", "refused": "refused", "local_error": "local error",
          "not_tested": "—"}


class ServerMatrixModel(RecordTableModel["ServerReport"]):
    COLUMNS = ("Target", *PROTOCOLS, "Verdict", "Certificate")

    def cells(self, record: ServerReport) -> tuple[str, ...]:
        statuses = {r.protocol: r.status.value for r in record.protocols}
        cert = record.certificate
        expiry = f"{cert.days_to_expiry} days left" if cert else "—"
        return (f"{record.host}:{record.port}",
                *(_SHOWN.get(statuses.get(p, ""), "—") for p in PROTOCOLS),
                self.verdict(record), expiry)

    @staticmethod
    def verdict(record: ServerReport) -> str:
        if record.status.value != "ok":
            return record.status.value.replace("_", " ")
        return "compliant" if record.compliant else "not compliant"

    def cell_role(self, record: ServerReport, column: int, role: int) -> Any:
        if 1 <= column <= len(PROTOCOLS):
            protocol = PROTOCOLS[column - 1]
            result = next((r for r in record.protocols if r.protocol == protocol), None)
            if result is None:
                return None
            if role == Qt.ItemDataRole.BackgroundRole:
                return protocol_fill(protocol in _ALLOWED, result.status.value)
            if role == Qt.ItemDataRole.ToolTipRole:
                return result.detail
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignCenter)
        if column == len(PROTOCOLS) + 1:
            if role == Qt.ItemDataRole.ForegroundRole:
                return GOOD if record.compliant else (MUTED if record.status.value != "ok"
                                                      else BAD)
            if role == Qt.ItemDataRole.ToolTipRole:
                return "\n".join(record.findings) or "No findings."
        return None
