"""Saving a Compliance tab's result as evidence: HTML, CSV or JSON through
``services.compliance.reports``, or PDF printed from the HTML with ``QPdfWriter``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QUrl
from PySide6.QtGui import QColor, QImage, QPageSize, QPainter, QPdfWriter, QTextDocument
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QFileDialog, QWidget

_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)

FILTERS = "HTML report (*.html);;PDF (*.pdf);;CSV, formula-safe (*.csv);;JSON (*.json)"


def ask_report_path(parent: QWidget, suggested: str) -> Path | None:
    """The file chosen in the standard save dialog, or None (tests replace this)."""
    chosen, _filter = QFileDialog.getSaveFileName(parent, "Save the report", suggested, FILTERS)
    return Path(chosen) if chosen else None


def write_pdf(path: Path, html: str) -> None:
    """Print the HTML report to PDF (A4). Runs on the GUI thread: QTextDocument and QPdfWriter
    are GUI classes; a report is small, so this takes a moment at most."""
    document = QTextDocument()
    document.setHtml(_charts_as_images(document, html))
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setTitle("Gatehouse TLS compliance report")
    writer.setCreator("Gatehouse")
    document.print_(writer)


def save_report(path: Path, kind: str, document: dict[str, Any]) -> None:
    """Write ``document`` as the report ``path`` names (by extension)."""
    from services.compliance.reports import render_html, write_report

    if path.suffix.lower() == ".pdf":
        write_pdf(path, render_html(kind, document))
    else:
        write_report(path, kind, document)


def _charts_as_images(document: QTextDocument, html: str) -> str:
    """QTextDocument draws no inline SVG: each chart becomes a picture resource of the
    document, so the PDF carries the same charts as the HTML report."""
    count = 0

    def picture(match: re.Match[str]) -> str:
        nonlocal count
        renderer = QSvgRenderer(QByteArray(match.group(0).encode()))
        if not renderer.isValid():
            return ""
        size = renderer.defaultSize()
        image = QImage(size.width() * 2, size.height() * 2, QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        count += 1
        name = f"chart-{count}.png"
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
        return f'<img src="{name}" width="{size.width()}" height="{size.height()}">'

    return _SVG.sub(picture, html)
