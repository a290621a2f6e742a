"""Where the migration wizard reads and writes files: the export, the plan and the reports.

These are the wizard's ``ask``-style entry points: file dialogs open here and nowhere else,
so tests answer them by replacing these functions.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

EXPORT_FILTER = "Legacy exports (*.csv *.txt *.jsonl *.json);;All files (*)"
PLAN_FILTER = "Migration plans (*.json);;All files (*)"


def ask_source(parent: QWidget | None, start: str = "") -> Path | None:
    """The legacy export to migrate, or None if the person cancelled."""
    name, _filter = QFileDialog.getOpenFileName(parent, "Choose the legacy export", start,
                                                EXPORT_FILTER)
    return Path(name) if name else None


def ask_plan(parent: QWidget | None) -> Path | None:
    """The signed-off plan file of a run to resume, or None if the person cancelled."""
    name, _filter = QFileDialog.getOpenFileName(parent, "Choose the plan of the stopped run",
                                                "", PLAN_FILTER)
    return Path(name) if name else None


def ask_save(parent: QWidget | None, title: str, default: Path, pattern: str) -> Path | None:
    """Where to write a plan or report, starting from ``default``; None if cancelled."""
    name, _filter = QFileDialog.getSaveFileName(parent, title, str(default), pattern)
    return Path(name) if name else None


def default_plan_path(source: Path) -> Path:
    """Next to the source: a run finds the export beside its plan (``migrate run``)."""
    return source.with_name(f"{source.stem}.plan.json")
