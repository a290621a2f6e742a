"""The comparison as bars, drawn with QPainter (QtCharts is not part of PySide6-Essentials).

Two parts: for each policy, one bar split into accepted and rejected candidates; then, for each
rule, a bar per policy with the candidates it rejects. Every bar is on the same scale — the
number of candidates — so a reader can compare any two. The same figures are in the table
beside it and in the widget's accessible description, for screen readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.comparison_model import POLICY_LABELS, ordered_codes, rule_meanings, rule_name

if TYPE_CHECKING:
    from services.passwords import Comparison

ACCEPTED = QColor("#2b8a7e")
REJECTED = QColor("#e8a49c")
POLICY_COLOURS = (QColor("#9aa5b1"), QColor("#0f766e"))
TRACK = QColor("#eef1f3")
TEXT = QColor("#1f2933")
MUTED = QColor("#616e7c")

PAD = 12.0
BAR = 16.0
RULE_BAR = 13.0
RULE_BAR_GAP = 3.0
ROW_GAP = 10.0
HEADING_GAP = 26.0
VALUE_WIDTH = 96.0


def _policy_label(position: int, count: int) -> str:
    return POLICY_LABELS[position] if count == 2 else f"Policy {position + 1}"


class ComparisonChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: Comparison | None = None
        self._codes: list[str] = []
        self._meanings: dict[str, str] = {}
        self.setObjectName("comparisonChart")
        self.setAccessibleName("Comparison chart")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMinimumWidth(360)

    def set_comparison(self, comparison: Comparison | None) -> None:
        self.comparison = comparison
        if comparison is None:
            self._codes = []
            self.setAccessibleDescription("")
        else:
            self._codes = ordered_codes(comparison)
            self._meanings = rule_meanings()
            self.setAccessibleDescription(self.describe())
        self.updateGeometry()
        self.update()

    def describe(self) -> str:
        """The chart's figures in words (its accessible description)."""
        if self.comparison is None:
            return ""
        count = len(self.comparison.tallies)
        parts = [f"{_policy_label(i, count)} ({t.policy}): {t.accepted:,} accepted, "
                 f"{t.rejected:,} rejected." for i, t in enumerate(self.comparison.tallies)]
        for code in self._codes:
            figures = ", ".join(f"{_policy_label(i, count).lower()} {dict(t.rules).get(code, 0):,}"
                                for i, t in enumerate(self.comparison.tallies))
            parts.append(f"{self._meanings.get(code, code)}: {figures}.")
        return " ".join(parts)

    # ---- geometry ------------------------------------------------------------------------

    def _rule_row_height(self) -> float:
        policies = len(self.comparison.tallies) if self.comparison else 2
        return policies * RULE_BAR + (policies - 1) * RULE_BAR_GAP + ROW_GAP

    def sizeHint(self) -> QSize:
        return QSize(520, self.heightForContent())

    def minimumSizeHint(self) -> QSize:
        return QSize(360, self.heightForContent())

    def heightForContent(self) -> int:
        if self.comparison is None:
            return 120
        line = QFontMetrics(self.font()).height()
        policies = len(self.comparison.tallies)
        height = PAD + 2 * (line + 6) + policies * (BAR + ROW_GAP)  # part one
        height += HEADING_GAP + line + 6 + line + 6  # part two: heading and legend
        height += len(self._codes) * self._rule_row_height() + PAD
        return int(height)

    # ---- painting ------------------------------------------------------------------------

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        if self.comparison is None:
            painter.setPen(MUTED)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Run the comparison to see the chart.")
            painter.end()
            return
        comparison = self.comparison
        font = QFont(self.font())
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        metrics = QFontMetrics(font)
        line = float(metrics.height())
        total = max(comparison.candidates, 1)
        count = len(comparison.tallies)
        labels = [rule_name(c) for c in self._codes]
        labels += [_policy_label(i, count) for i in range(count)]
        label_width = min(max(metrics.horizontalAdvance(t) for t in labels) + 12.0,
                          self.width() * 0.5)
        left = PAD + label_width
        right = self.width() - PAD - VALUE_WIDTH
        span = max(right - left, 40.0)
        y = PAD

        # Part one: accepted and rejected per policy.
        painter.setFont(bold)
        painter.setPen(TEXT)
        painter.drawText(QRectF(PAD, y, self.width() - 2 * PAD, line),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"Accepted and rejected, of {comparison.candidates:,} candidates")
        y += line + 6
        painter.setFont(font)
        self._legend(painter, left, y, line, metrics,
                     [("Accepted", ACCEPTED), ("Rejected", REJECTED)])
        y += line + 6
        for position, tally in enumerate(comparison.tallies):
            self._label(painter, QRectF(PAD, y, label_width - 8, BAR),
                        _policy_label(position, count), metrics)
            accepted = span * tally.accepted / total
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(TRACK)
            painter.drawRoundedRect(QRectF(left, y, span, BAR), 3, 3)
            painter.setBrush(REJECTED)
            painter.drawRoundedRect(QRectF(left, y, span * (tally.accepted + tally.rejected)
                                           / total, BAR), 3, 3)
            painter.setBrush(ACCEPTED)
            if accepted > 0:
                painter.drawRoundedRect(QRectF(left, y, accepted, BAR), 3, 3)
            rejected_text = f"{tally.rejected:,} rejected"
            if span - accepted >= metrics.horizontalAdvance(rejected_text) + 10:
                painter.setPen(TEXT)
                painter.drawText(QRectF(left + accepted, y, span - accepted - 5, BAR),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 rejected_text)
            painter.setPen(TEXT)
            painter.drawText(QRectF(right + 6, y, VALUE_WIDTH - 6, BAR),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"{tally.accepted:,} accepted")
            y += BAR + ROW_GAP

        # Part two: rejections per rule, one bar per policy.
        y += HEADING_GAP - ROW_GAP
        painter.setFont(bold)
        painter.setPen(TEXT)
        painter.drawText(QRectF(PAD, y, self.width() - 2 * PAD, line),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         "Candidates each rule rejects")
        y += line + 6
        painter.setFont(font)
        self._legend(painter, left, y, line, metrics, [
            (_policy_label(p, count), POLICY_COLOURS[min(p, len(POLICY_COLOURS) - 1)])
            for p in range(count)])
        y += line + 6
        if not self._codes:
            painter.setPen(MUTED)
            painter.drawText(QRectF(PAD, y, self.width() - 2 * PAD, line),
                             Qt.AlignmentFlag.AlignLeft, "No rule rejected any candidate.")
        for code in self._codes:
            row_height = count * RULE_BAR + (count - 1) * RULE_BAR_GAP
            self._label(painter, QRectF(PAD, y, label_width - 8, row_height),
                        rule_name(code), metrics)
            bar_y = y
            for position, tally in enumerate(comparison.tallies):
                value = dict(tally.rules).get(code, 0)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(TRACK)
                painter.drawRoundedRect(QRectF(left, bar_y, span, RULE_BAR), 2, 2)
                if value:
                    painter.setBrush(POLICY_COLOURS[min(position, len(POLICY_COLOURS) - 1)])
                    painter.drawRoundedRect(QRectF(left, bar_y, max(span * value / total, 2.0),
                                                   RULE_BAR), 2, 2)
                painter.setPen(MUTED)
                painter.drawText(QRectF(right + 6, bar_y - 2, VALUE_WIDTH - 6, RULE_BAR + 4),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 f"{value:,}")
                bar_y += RULE_BAR + RULE_BAR_GAP
            y += self._rule_row_height()
        painter.end()

    def _legend(self, painter: QPainter, x: float, y: float, line: float,
                metrics: QFontMetrics, entries: list[tuple[str, QColor]]) -> None:
        for name, colour in entries:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(x, y + (line - 10) / 2, 10, 10), 2, 2)
            painter.setPen(TEXT)
            width = metrics.horizontalAdvance(name) + 4
            painter.drawText(QRectF(x + 14, y, width, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            x += 14 + width + 16

    def _label(self, painter: QPainter, rect: QRectF, text: str, metrics: QFontMetrics) -> None:
        painter.setPen(TEXT)
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width())))
