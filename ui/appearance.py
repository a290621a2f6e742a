"""The look: the stylesheet and the SVG icons under ``resources/``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QWidget

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
