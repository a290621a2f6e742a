"""Colours the Compliance page gives verdicts and protocol results: one meaning, one colour,
in tables, the chart and the reports alike (the reports use the same hex values)."""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor

GOOD = QColor("#2b8a7e")  # compliant; an allowed protocol accepted
BAD = QColor("#c0392b")  # not compliant; a forbidden protocol accepted
WARN = QColor("#d68910")  # uncertain; a local error (no verdict)
MUTED = QColor("#616e7c")  # refused, not tested, unknown
GOOD_FILL = QColor("#d8f0ec")
BAD_FILL = QColor("#f8d7d3")
WARN_FILL = QColor("#fbead0")


def verdict_colour(verdict: str) -> QColor:
    if verdict == "compliant":
        return GOOD
    if verdict in ("uncertain", "local_error"):
        return WARN
    if verdict in ("unknown", "refused", "not_tested", "not_tls"):
        return MUTED
    return BAD


def protocol_fill(protocol_allowed: bool, status: str) -> QBrush | None:
    """Background of a protocol-matrix cell: green/red when accepted, amber for a local error."""
    if status == "accepted":
        return QBrush(GOOD_FILL if protocol_allowed else BAD_FILL)
    if status == "local_error":
        return QBrush(WARN_FILL)
    return None
