"""MFA coverage per organisation as stacked bars, drawn with QPainter (no QtCharts).

One bar per organisation, its length the number of targeted people, split by status, so the
organisations can be compared on one scale; the coverage percentage is written after each bar.
The same figures are in the table beside it and in the accessible description.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

if TYPE_CHECKING:
    from services.mfa.campaign import Coverage

# Status → colour; the order is the order of the segments (good news first).
SEGMENTS = (("enrolled", "Enrolled", QColor("#2b8a7e")), ("locked", "Locked", QColor("#7c6fb0")),
            ("pending", "Pending", QColor("#e3b341")), ("overdue", "Overdue", QColor("#d9534f")),
            ("reset", "Reset", QColor("#9aa5b1")))
TRACK = QColor("#eef1f3")
TEXT = QColor("#1f2933")
MUTED = QColor("#616e7c")
PAD = 12.0
BAR = 18.0
ROW_GAP = 10.0
VALUE_WIDTH = 120.0


class MfaCoverageChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.organisations: tuple[Coverage, ...] = ()
        self.setObjectName("mfaCoverageChart")
        self.setAccessibleName("MFA coverage by organisation")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMinimumWidth(360)

    def set_coverage(self, organisations: tuple[Coverage, ...]) -> None:
        self.organisations = organisations
        self.setAccessibleDescription(self.describe())
        self.updateGeometry()
        self.update()

    def describe(self) -> str:
        return " ".join(
            f"{c.org_name}: {c.coverage_percent:.1f}% of {c.total} with MFA; "
            + ", ".join(f"{getattr(c, key)} {label.lower()}" for key, label, _ in SEGMENTS) + "."
            for c in self.organisations)

    def _legend_rows(self, metrics: QFontMetrics, left: float) -> list[list[int]]:
        """The legend's entries (indexes into SEGMENTS), wrapped to the widget's width."""
        rows: list[list[int]] = [[]]
        x = left
        for number, (_key, label, _colour) in enumerate(SEGMENTS):
            width = 14 + metrics.horizontalAdvance(label) + 16
            if rows[-1] and x + width > self.width() - PAD:
                rows.append([])
                x = left
            rows[-1].append(number)
            x += width
        return rows

    def heightForContent(self) -> int:
        metrics = QFontMetrics(self.font())
        line = metrics.height()
        legend = len(self._legend_rows(metrics, PAD))
        rows = max(len(self.organisations), 1)
        return int(PAD + legend * (line + 4) + 4 + rows * (BAR + ROW_GAP) + PAD)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.updateGeometry()  # the legend may wrap differently

    def sizeHint(self) -> QSize:
        return QSize(520, self.heightForContent())

    def minimumSizeHint(self) -> QSize:
        return QSize(360, self.heightForContent())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        metrics = QFontMetrics(self.font())
        line = float(metrics.height())
        if not self.organisations:
            painter.setPen(MUTED)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Nobody is targeted for MFA yet.")
            painter.end()
            return
        labels = [c.org_code for c in self.organisations]
        label_width = max(metrics.horizontalAdvance(t) for t in labels) + 12.0
        left = PAD + label_width
        span = max(self.width() - PAD - VALUE_WIDTH - left, 40.0)
        most = max(c.total for c in self.organisations) or 1
        # The legend, wrapped.
        y = PAD
        for legend_row in self._legend_rows(metrics, PAD):
            x: float = PAD
            for number in legend_row:
                _key, label, colour = SEGMENTS[number]
                painter.fillRect(QRectF(x, y + (line - 10) / 2, 10, 10), colour)
                painter.setPen(TEXT)
                width = metrics.horizontalAdvance(label)
                painter.drawText(QRectF(x + 14, y, width + 2, line),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 label)
                x += 14 + width + 16
            y += line + 4
        y += 4
        bold = QFont(self.font())
        bold.setWeight(QFont.Weight.DemiBold)
        for coverage in self.organisations:
            painter.setPen(TEXT)
            painter.setFont(self.font())
            painter.drawText(QRectF(PAD, y, label_width - 8, BAR),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             coverage.org_code)
            painter.fillRect(QRectF(left, y, span, BAR), TRACK)
            x = left
            for key, _label, colour in SEGMENTS:
                count = int(getattr(coverage, key))
                if count:
                    segment = span * count / most
                    painter.fillRect(QRectF(x, y, segment, BAR), colour)
                    x += segment
            painter.setFont(bold)
            painter.drawText(QRectF(left + span + 8, y, VALUE_WIDTH - 8, BAR),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"{coverage.coverage_percent:.1f} % of {coverage.total}")
            y += BAR + ROW_GAP
        painter.end()
