"""Migration tracked to completion, per organisation and size band, as stacked bars drawn
with QPainter (no QtCharts): password set, reset pending, code expired, disabled.

Grouped by size band (large, medium, small) as the programme's cleansing reports are; one bar
per organisation, its length the number migrated, so organisations compare on one scale. The
same figures are in the table beside it and in the accessible description.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QFontMetrics, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.stacked_bars import PAD, StackedBars, draw_empty, legend_height, legend_rows, open_painter

if TYPE_CHECKING:
    from services.migration.tracking import ProgressRow

SEGMENTS = (("completed", "Password set", QColor("#2b8a7e")),
            ("pending", "Reset pending", QColor("#e3b341")),
            ("expired", "Code expired", QColor("#d9534f")),
            ("disabled", "Disabled", QColor("#9aa5b1")))
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
        return int(PAD + legend_height(1, line) + bands * (line + BAND_GAP)
                   + rows * (BAR + ROW_GAP) + PAD)

    def sizeHint(self) -> QSize:
        return QSize(520, self.heightForContent())

    def minimumSizeHint(self) -> QSize:
        return QSize(380, self.heightForContent())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = open_painter(self)
        if not self.rows:
            draw_empty(painter, self, "Nobody has been migrated yet.")
            painter.end()
            return
        bars = StackedBars(painter, self.font(), self.width(), SEGMENTS,
                           [r.organisation for r in self.rows],
                           max(r.migrated for r in self.rows),
                           bar=BAR, value_width=VALUE_WIDTH)
        # The legend on one row, not wrapped: heightForContent counts one.
        y = bars.draw_legend(legend_rows(bars.metrics, SEGMENTS), PAD)
        for band in self._bands():
            bars.draw_heading(f"{band.capitalize()} organisations", y)
            y += bars.line + BAND_GAP
            for row in (r for r in self.rows if r.size_band == band):
                bars.draw_bar(y, row.organisation, row,
                              f"{percent_done(row):.0f} % of {row.migrated:,}")
                y += BAR + ROW_GAP
        painter.end()
