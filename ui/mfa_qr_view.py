"""The QR code of a provisioning URI, drawn module by module with QPainter from segno's matrix.

Drawn rather than loaded from an image so that it stays sharp at any size and scale factor, and
so that the modules on screen are exactly ``matrix`` (the enrolment test reads them back).
"""

from __future__ import annotations

import segno
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

QUIET_ZONE = 4  # modules of white border the QR specification asks for
DARK = QColor("#000000")
LIGHT = QColor("#ffffff")


def qr_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The modules of ``text``'s QR code (True is dark), as segno makes it."""
    code = segno.make(text, error="m", micro=False)
    return tuple(tuple(bool(cell) for cell in row) for row in code.matrix)


class QrCodeView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix: tuple[tuple[bool, ...], ...] = ()
        self.setObjectName("qrCode")
        self.setAccessibleName("QR code for your authenticator app")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFixedSize(QSize(236, 236))

    def set_text(self, text: str) -> None:
        self.matrix = qr_matrix(text) if text else ()
        self.update()

    def clear(self) -> None:
        self.set_text("")

    def geometry_of_modules(self) -> tuple[float, float, float]:
        """(x, y, size) of the top-left module and the side of one module, in pixels."""
        count = len(self.matrix)
        if not count:
            return 0.0, 0.0, 0.0
        side = min(self.width(), self.height())
        module = float(side // (count + 2 * QUIET_ZONE))  # whole pixels: crisp edges
        offset_x = (self.width() - module * count) / 2
        offset_y = (self.height() - module * count) / 2
        return offset_x, offset_y, module

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), LIGHT)
        x0, y0, module = self.geometry_of_modules()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(DARK)
        for r, row in enumerate(self.matrix):
            for c, dark in enumerate(row):
                if dark:
                    painter.drawRect(QRectF(x0 + c * module, y0 + r * module, module, module))
        painter.end()
