"""Stacked horizontal bars drawn with QPainter (QtCharts is not part of PySide6-Essentials),
shared by the MFA coverage and the migration completion charts.

Both charts draw the same parts in the same way: a colour legend, headings over groups of rows,
and per row a right-aligned label, a grey track, coloured segments in proportion to the counts
and the figure after the bar. Drawing them here keeps the two charts looking alike and lets a
change to a bar be made once; each chart keeps what is its own: its rows, segments, words, sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QWidget

# (attribute of a row holding the count, legend label, colour); in the order of the segments.
Segment = tuple[str, str, QColor]

TRACK = QColor("#eef1f3")
TEXT = QColor("#1f2933")
MUTED = QColor("#616e7c")
PAD = 12.0

_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _legend_entry_width(metrics: QFontMetrics, label: str) -> int:
    return 14 + metrics.horizontalAdvance(label) + 16  # swatch and gap, label, gap


def legend_rows(metrics: QFontMetrics, segments: Sequence[Segment],
                right: float = math.inf) -> list[list[int]]:
    """The legend's entries (indexes into segments), wrapped so that none passes ``right``;
    all on one row by default."""
    rows: list[list[int]] = [[]]
    x = PAD
    for number, (_key, label, _colour) in enumerate(segments):
        width = _legend_entry_width(metrics, label)
        if rows[-1] and x + width > right:
            rows.append([])
            x = PAD
        rows[-1].append(number)
        x += width
    return rows


def legend_height(rows: int, line: float) -> float:
    """The height of a legend of ``rows`` rows, with the gap below it."""
    return rows * (line + 4) + 4


def open_painter(widget: QWidget) -> QPainter:
    """A painter on the widget, antialiased, its background filled white."""
    painter = QPainter(widget)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.fillRect(widget.rect(), QColor("#ffffff"))
    return painter


def draw_empty(painter: QPainter, widget: QWidget, message: str) -> None:
    """What a chart without rows shows instead: why it is empty, centred and muted."""
    painter.setPen(MUTED)
    painter.drawText(widget.rect(), Qt.AlignmentFlag.AlignCenter, message)


class StackedBars:
    """One painting of a chart: the painter, the fonts and metrics, and the geometry — labels on
    the left, then the bars on one scale (``most`` fills the span), then the figures."""

    def __init__(self, painter: QPainter, font: QFont, width: int,
                 segments: Sequence[Segment], labels: Sequence[str], most: int, *,
                 bar: float, value_width: float) -> None:
        self.painter = painter
        self.font = font
        self.bold = QFont(font)
        self.bold.setWeight(QFont.Weight.DemiBold)
        self.metrics = QFontMetrics(font)
        self.line = float(self.metrics.height())
        self.width = width
        self.segments = segments
        self.bar = bar
        self.value_width = value_width
        self.label_width = max(self.metrics.horizontalAdvance(t) for t in labels) + 12.0
        self.left = PAD + self.label_width
        self.span = max(width - PAD - value_width - self.left, 40.0)
        self.most = most or 1

    def draw_legend(self, rows: list[list[int]], top: float) -> float:
        """The legend, laid out as ``legend_rows`` wrapped it; returns the y below it."""
        y = top
        for legend_row in rows:
            x: float = PAD
            for number in legend_row:
                _key, label, colour = self.segments[number]
                self.painter.fillRect(QRectF(x, y + (self.line - 10) / 2, 10, 10), colour)
                self.painter.setPen(TEXT)
                width = self.metrics.horizontalAdvance(label)
                self.painter.drawText(QRectF(x + 14, y, width + 2, self.line), _LEFT, label)
                x += _legend_entry_width(self.metrics, label)
            y += self.line + 4
        return y + 4

    def draw_heading(self, text: str, top: float) -> None:
        """A heading over a group of bars, one line high, across the whole width."""
        self.painter.setFont(self.bold)
        self.painter.setPen(MUTED)
        self.painter.drawText(QRectF(PAD, top, self.width - 2 * PAD, self.line), _LEFT, text)

    def draw_bar(self, top: float, label: str, row: object, value: str) -> None:
        """One row: its label, the track, a segment per non-zero count, and the figure."""
        painter = self.painter
        painter.setPen(TEXT)
        painter.setFont(self.font)
        painter.drawText(QRectF(PAD, top, self.label_width - 8, self.bar), _RIGHT, label)
        painter.fillRect(QRectF(self.left, top, self.span, self.bar), TRACK)
        x = self.left
        for key, _label, colour in self.segments:
            count = int(getattr(row, key))
            if count:
                segment = self.span * count / self.most
                painter.fillRect(QRectF(x, top, segment, self.bar), colour)
                x += segment
        painter.setFont(self.bold)
        painter.drawText(QRectF(self.left + self.span + 8, top, self.value_width - 8, self.bar),
                         _LEFT, value)
