"""The migration wizard (issue 5): choose file → mapping preview → validation results →
suggested merges → sign-off → run, with progress, ETA, Cancel and Resume → summary.

The GUI calls the very services ``python main.py migrate`` calls (plan, decide, sign-off, run,
report), in the same order, so a plan made here can be run from the CLI and the other way
round. The steps live in ``migration_plan_pages`` (review, nothing written) and
``migration_run_pages`` (the run and its report).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QWidget, QWizard

from ui.appearance import fit_to_screen
from ui.migration_plan_pages import (
    ChoosePage,
    MappingPage,
    MergesPage,
    SignOffPage,
    ValidationPage,
)
from ui.migration_run_pages import RunPage, SummaryPage
from ui.task_runner import TaskRunner

if TYPE_CHECKING:
    from policies.migration_policy import MigrationPolicy
    from services.authz import Operator
    from services.context import Context

CHOOSE, MAPPING, VALIDATION, MERGES, SIGN_OFF, RUN, SUMMARY = range(7)


class MigrationWizard(QWizard):
    """Opened window-modal (``open``). ``migrated`` is emitted when a run finishes, so that
    the Migration page can refresh its runs and tracking."""

    migrated = Signal()

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner, *,
                 policy: MigrationPolicy | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from policies.migration_policy import load_migration_policy

        self.ctx, self.operator, self.runner = ctx, operator, runner
        self.policy = policy or load_migration_policy()
        self.source: Path | None = None
        self.plan: dict[str, Any] | None = None
        self.plan_identities: bytes | None = None  # written beside the plan at sign-off
        self.plan_path: Path | None = None
        self._running = False
        self.setWindowTitle("Migrate legacy accounts")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setMinimumSize(960, 680)
        fit_to_screen(self, 1100, 800)
        self.choose = ChoosePage(self)
        self.mapping = MappingPage(self)
        self.validation = ValidationPage(self)
        self.merges = MergesPage(self)
        self.sign_off = SignOffPage(self)
        self.run_page = RunPage(self)
        self.summary = SummaryPage(self)
        for page_id, page in ((CHOOSE, self.choose), (MAPPING, self.mapping),
                              (VALIDATION, self.validation), (MERGES, self.merges),
                              (SIGN_OFF, self.sign_off), (RUN, self.run_page),
                              (SUMMARY, self.summary)):
            self.setPage(page_id, page)
        self.run_page.finished.connect(self.migrated)

    def resume(self, plan_path: Path, plan: dict[str, Any], source: Path) -> None:
        """Open at the run step for a signed-off plan whose run stopped part-way (the Migration
        page's Resume): the run carries on from its first batch not yet written."""
        self.source, self.plan, self.plan_path = source, plan, plan_path
        self.setStartId(RUN)

    def set_source(self, source: Path) -> None:
        """A new export starts a new plan."""
        if source != self.source:
            self.source, self.plan, self.plan_path = source, None, None
            self.plan_identities = None

    def set_running(self, running: bool) -> None:
        # While a batch is being written the wizard stays open: Cancel the run first.
        self._running = running
        self.button(QWizard.WizardButton.CancelButton).setEnabled(not running)

    def reject(self) -> None:
        if self._running:
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._running:
            event.ignore()
            return
        super().closeEvent(event)
