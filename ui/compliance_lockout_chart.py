"""The lock-out summary as bars, drawn with QPainter (QtCharts is not part of
PySide6-Essentials): one bar per organisation, its requests that fail at cut-over, all bars on
one scale. The figures are also in the table beside it and the accessible description."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.compliance_colours import BAD, MUTED

if TYPE_CHECKING:
    from services.compliance.lockout import OrgLockout

TRACK = QColor("#eef1f3")
TEXT = QColor("#1f2933")
PAD, BAR, GAP, LABEL_W, VALUE_W = 12.0, 16.0, 8.0, 100.0, 64.0
MAX_BARS = 12  # the rest are in the table


class LockoutChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.organisations: list[OrgLockout] = []
        self.setAccessibleName("Lock-out by organisation")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMinimumWidth(280)

    def set_organisations(self, organisations: list[OrgLockout]) -> None:
        self.organisations = list(organisations)
        self.setAccessibleDescription(" ".join(
            f"{o.code or 'unmapped'}: {o.requests:,} requests." for o in self.organisations))
        self.updateGeometry()
        self.update()

    def _shown(self) -> list[OrgLockout]:
        return self.organisations[:MAX_BARS]

    def sizeHint(self) -> QSize:
        rows = max(1, len(self._shown()))
        return QSize(480, int(PAD * 2 + 20 + rows * (BAR + GAP)))

    def minimumSizeHint(self) -> QSize:
        return QSize(280, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = QFontMetrics(self.font())
        painter.setPen(TEXT)
        painter.drawText(QRectF(PAD, PAD, self.width() - 2 * PAD, 18),
                         Qt.AlignmentFlag.AlignLeft, "Requests that fail at cut-over")
        shown = self._shown()
        if not shown:
            painter.setPen(MUTED)
            painter.drawText(QRectF(PAD, PAD + 22, self.width() - 2 * PAD, 18),
                             Qt.AlignmentFlag.AlignLeft, "Nobody would be locked out.")
            painter.end()
            return
        top = max(o.requests for o in shown) or 1
        track_w = max(10.0, self.width() - 2 * PAD - LABEL_W - VALUE_W)
        for index, org in enumerate(shown):
            y = PAD + 22 + index * (BAR + GAP)
            label = metrics.elidedText(org.code or "(unmapped)", Qt.TextElideMode.ElideRight,
                                       int(LABEL_W - 8))
            painter.setPen(TEXT)
            painter.drawText(QRectF(PAD, y, LABEL_W - 8, BAR),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
            painter.fillRect(QRectF(PAD + LABEL_W, y, track_w, BAR), TRACK)
            width = track_w * org.requests / top
            painter.fillRect(QRectF(PAD + LABEL_W, y, max(1.0, width), BAR),
                             BAD if org.code else MUTED)
            painter.drawText(QRectF(PAD + LABEL_W + track_w + 6, y, VALUE_W - 6, BAR),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             f"{org.requests:,}")
        painter.end()
