"""The look: the stylesheet and the SVG icons under ``resources/``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

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
