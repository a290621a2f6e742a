"""MFA coverage per organisation as stacked bars, drawn with QPainter (no QtCharts).

One bar per organisation, its length the number of targeted people, split by status, so the
organisations can be compared on one scale; the coverage percentage is written after each bar.
The same figures are in the table beside it and in the accessible description.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QFontMetrics, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.stacked_bars import PAD, StackedBars, draw_empty, legend_height, legend_rows, open_painter

if TYPE_CHECKING:
    from services.mfa.campaign import Coverage

# Status → colour; the order is the order of the segments (good news first).
SEGMENTS = (("enrolled", "Enrolled", QColor("#2b8a7e")), ("locked", "Locked", QColor("#7c6fb0")),
            ("pending", "Pending", QColor("#e3b341")), ("overdue", "Overdue", QColor("#d9534f")),
            ("reset", "Reset", QColor("#9aa5b1")))
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

    def _legend_rows(self, metrics: QFontMetrics) -> list[list[int]]:
        """The legend's entries (indexes into SEGMENTS), wrapped to the widget's width."""
        return legend_rows(metrics, SEGMENTS, self.width() - PAD)

    def heightForContent(self) -> int:
        metrics = QFontMetrics(self.font())
        legend = len(self._legend_rows(metrics))
        rows = max(len(self.organisations), 1)
        return int(PAD + legend_height(legend, metrics.height()) + rows * (BAR + ROW_GAP) + PAD)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.updateGeometry()  # the legend may wrap differently

    def sizeHint(self) -> QSize:
        return QSize(520, self.heightForContent())

    def minimumSizeHint(self) -> QSize:
        return QSize(360, self.heightForContent())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = open_painter(self)
        if not self.organisations:
            draw_empty(painter, self, "Nobody is targeted for MFA yet.")
            painter.end()
            return
        bars = StackedBars(painter, self.font(), self.width(), SEGMENTS,
                           [c.org_code for c in self.organisations],
                           max(c.total for c in self.organisations),
                           bar=BAR, value_width=VALUE_WIDTH)
        y = bars.draw_legend(self._legend_rows(bars.metrics), PAD)
        for coverage in self.organisations:
            bars.draw_bar(y, coverage.org_code, coverage,
                          f"{coverage.coverage_percent:.1f} % of {coverage.total}")
            y += BAR + ROW_GAP
        painter.end()
