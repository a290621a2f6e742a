"""The look: the stylesheet and the SVG icons under ``resources/``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QFrame, QScrollArea, QWidget

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
ICONS = RESOURCES / "icons"


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")  # the same widgets on every platform, so the stylesheet fits all
    app.setStyleSheet((RESOURCES / "style.qss").read_text(encoding="utf-8"))
    app.setWindowIcon(icon("gatehouse"))


@cache
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons/NAME.svg`` (drawn by Qt's SVG icon engine)."""
    return QIcon(str(ICONS / f"{name}.svg"))


def plain_scroll(area: QScrollArea, content: QWidget, name: str, *,
                 horizontal: bool = True) -> QScrollArea:
    """``area`` showing ``content`` at the area's size where it fits and scrolling where it
    does not, with no frame and no background of its own (the page's shows through:
    ``setWidget`` turns the content's own fill on, which would paint the window grey)."""
    area.setObjectName(name)
    area.setWidget(content)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    if not horizontal:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.viewport().setAutoFillBackground(False)
    content.setAutoFillBackground(False)
    return area


# Room left for the window's title bar and frame, which resize() does not count.
WINDOW_FRAME = 40


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Open ``window`` at ``width`` × ``height``, or at the screen's free area when that is
    smaller (a 1366 × 768 laptop, less its task bar), and never below its minimum size."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        free = screen.availableGeometry()
        width = min(width, free.width())
        height = min(height, free.height() - WINDOW_FRAME)
    window.resize(max(width, window.minimumWidth()), max(height, window.minimumHeight()))
