"""Migration tracked to completion, per organisation and size band, as stacked bars drawn
with QPainter (no QtCharts): password set, reset pending, code expired, disabled.

Grouped by size band (large, medium, small) as the programme's cleansing reports are; one bar
per organisation, its length the number migrated, so organisations compare on one scale. The
same figures are in the table beside it and in the accessible description.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

if TYPE_CHECKING:
    from services.migration.tracking import ProgressRow

SEGMENTS = (("completed", "Password set", QColor("#2b8a7e")),
            ("pending", "Reset pending", QColor("#e3b341")),
            ("expired", "Code expired", QColor("#d9534f")),
            ("disabled", "Disabled", QColor("#9aa5b1")))
TRACK = QColor("#eef1f3")
TEXT = QColor("#1f2933")
MUTED = QColor("#616e7c")
PAD = 12.0
BAR = 16.0
ROW_GAP = 8.0
BAND_GAP = 6.0
VALUE_WIDTH = 110.0


def percent_done(row: ProgressRow) -> float:
    """Of those who must act (not disabled), the share who have set a new password."""
    due = row.migrated - row.disabled - row.other
    return 100.0 * row.completed / due if due > 0 else 100.0


class MigrationCompletionChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[ProgressRow] = []
        self.setObjectName("migrationCompletionChart")
        self.setAccessibleName("Migration completion by organisation and size band")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMinimumWidth(380)

    def set_rows(self, rows: list[ProgressRow]) -> None:
        self.rows = list(rows)
        self.setAccessibleDescription(self.describe())
        self.updateGeometry()
        self.update()

    def describe(self) -> str:
        return " ".join(
            f"{r.organisation} ({r.size_band}): {percent_done(r):.0f}% of {r.migrated} done; "
            + ", ".join(f"{getattr(r, key)} {label.lower()}" for key, label, _ in SEGMENTS)
            + "." for r in self.rows)

    def _bands(self) -> list[str]:
        return list(dict.fromkeys(r.size_band for r in self.rows))

    def heightForContent(self) -> int:
        line = QFontMetrics(self.font()).height()
        rows = max(len(self.rows), 1)
        bands = len(self._bands())
        return int(PAD + line + 8 + bands * (line + BAND_GAP) + rows * (BAR + ROW_GAP) + PAD)

    def sizeHint(self) -> QSize:
        return QSize(520, self.heightForContent())

    def minimumSizeHint(self) -> QSize:
        return QSize(380, self.heightForContent())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        metrics = QFontMetrics(self.font())
        line = float(metrics.height())
        if not self.rows:
            painter.setPen(MUTED)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Nobody has been migrated yet.")
            painter.end()
            return
        label_width = max(metrics.horizontalAdvance(r.organisation) for r in self.rows) + 12.0
        left = PAD + label_width
        span = max(self.width() - PAD - VALUE_WIDTH - left, 40.0)
        most = max(r.migrated for r in self.rows) or 1
        x = PAD
        y = PAD
        for _key, label, colour in SEGMENTS:
            painter.fillRect(QRectF(x, y + (line - 10) / 2, 10, 10), colour)
            painter.setPen(TEXT)
            width = metrics.horizontalAdvance(label)
            painter.drawText(QRectF(x + 14, y, width + 2, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
            x += 14 + width + 16
        y += line + 8
        bold = QFont(self.font())
        bold.setWeight(QFont.Weight.DemiBold)
        for band in self._bands():
            painter.setFont(bold)
            painter.setPen(MUTED)
            painter.drawText(QRectF(PAD, y, self.width() - 2 * PAD, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"{band.capitalize()} organisations")
            y += line + BAND_GAP
            for row in (r for r in self.rows if r.size_band == band):
                painter.setFont(self.font())
                painter.setPen(TEXT)
                painter.drawText(QRectF(PAD, y, label_width - 8, BAR),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 row.organisation)
                painter.fillRect(QRectF(left, y, span, BAR), TRACK)
                bar_x = left
                for key, _label, colour in SEGMENTS:
                    count = int(getattr(row, key))
                    if count:
                        segment = span * count / most
                        painter.fillRect(QRectF(bar_x, y, segment, BAR), colour)
                        bar_x += segment
                painter.setFont(bold)
                painter.drawText(QRectF(left + span + 8, y, VALUE_WIDTH - 8, BAR),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 f"{percent_done(row):.0f} % of {row.migrated:,}")
                y += BAR + ROW_GAP
        painter.end()
