"""What every Compliance tab shares: a progress bar with Cancel for the work it hands to the
task runner, an inline banner for the outcome, and "Save report…" for its last result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QWidget,
)

from ui import alerts
from ui.alerts import inline_label
from ui.compliance_export import ask_report_path, save_report
from ui.task_runner import TaskControl, TaskHandle, TaskRunner

T = TypeVar("T")


def make_table(model: Any) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    return table


class CheckTab(QWidget):
    KIND = ""  # the report kind (services.compliance.reports.KINDS)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._handle: TaskHandle | None = None
        self.document: dict[str, Any] | None = None  # the last result, as the CLI's JSON
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button = QPushButton("Save report…")
        self.save_button.setToolTip("HTML with charts, PDF, formula-safe CSV or JSON")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        self.banner = inline_label("banner")
        self.busy_row = QHBoxLayout()
        self.busy_row.addWidget(self.progress, 1)
        self.busy_row.addWidget(self.cancel_button)

    @property
    def busy(self) -> bool:
        return self._handle is not None

    def run(self, work: Callable[[TaskControl], T], on_result: Callable[[T], None]) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.banner.hide()
        self.set_busy(True)
        self._handle = self._runner.submit(
            work, owner=self, on_result=on_result, on_error=self.show_error,
            on_progress=self._progressed, on_cancelled=self._cancelled, on_done=self._done)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def set_busy(self, busy: bool) -> None:
        """Subclasses disable their start buttons while work runs."""

    def _progressed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _cancelled(self) -> None:
        self.say("Cancelled: the results so far are not shown.", "")

    def _done(self) -> None:
        self._handle = None
        self.progress.hide()
        self.cancel_button.hide()
        self.set_busy(False)
        self.save_button.setEnabled(self.document is not None)

    def show_error(self, exc: Exception) -> None:
        self.say(str(exc), "bad")

    def say(self, text: str, tone: str) -> None:
        self.banner.setProperty("tone", tone)
        self.banner.setText(text)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.show()

    def save(self) -> None:
        if self.document is None:
            return
        path = ask_report_path(self, f"gatehouse-{self.KIND}-report.html")
        if path is None:
            return
        from services.errors import GatehouseError

        try:
            save_report(path, self.KIND, self.document)
        except GatehouseError as exc:  # a name without a known extension, a read-only folder
            alerts.show_error(self, str(exc))
            return
        self.say(f"Saved the report as {path.name}.", "good")


def fine(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("fineprint")
    label.setWordWrap(True)
    return label
