"""The migration wizard's last steps: the run, with progress, an estimate of the time left and
Cancel, and the summary with the report.

A run writes in batches, each one transaction (``services.migration.run``): Cancel stops it
after the batch in hand, so the store is never half a batch, and Resume — the same signed-off
plan run again — starts at the first batch not yet written. The store work runs through the
task runner; this page only draws what it reports.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from ui import alerts, migration_files
from ui.migration_plan_pages import caption, fineprint, table_view
from ui.migration_table_model import MigrationTableModel
from ui.task_runner import TaskControl, TaskHandle

if TYPE_CHECKING:
    from services.migration.report import Report
    from services.migration.run import RunSummary
    from ui.migration_wizard import MigrationWizard

REPORT_COLUMNS = (("organisation", "Code"), ("name", "Organisation"), ("size", "Size"),
                  ("rows", "Rows"), ("rejected", "Rejected"), ("planned", "Planned"),
                  ("migrated", "Migrated"),
                  ("merged_away", "Merged away"), ("completed", "Password set"),
                  ("pending_reset", "Reset pending"), ("disabled", "Disabled"))


def eta_text(elapsed: float, done: int, total: int) -> str:
    if done <= 0 or done >= total:
        return ""
    left = elapsed / done * (total - done)
    if left < 1:
        return "less than a second left"
    if left < 90:
        return f"about {left:.0f} s left"
    return f"about {left / 60:.0f} min left"


class RunPage(QWizardPage):
    """Step 6: the run. Back is closed (the plan is signed and may be partly run)."""

    progressed = Signal(int, int)
    stopped = Signal()  # cancelled: the store is consistent and the run resumable
    finished = Signal()

    def __init__(self, wizard: MigrationWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._handle: TaskHandle | None = None
        self._started = 0.0
        self.summary: RunSummary | None = None
        self.setTitle("Run the migration")
        self.setSubTitle("Identities, entitlements, reset codes and notices are written in "
                         "batches, each one transaction. Cancel stops after the batch in hand; "
                         "Resume carries on from exactly there.")
        self.status = QLabel()
        self.status.setObjectName("banner")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Migration progress")
        self.bar.setFormat("%v of %m identities (%p%)")
        self.eta = fineprint()
        self.cancel_button = QPushButton("&Cancel the run")
        self.cancel_button.setToolTip("Stop after the batch in hand; nothing is half-written")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("&Resume")
        self.resume_button.setToolTip("Run the same plan again from the first batch not yet "
                                      "written")
        self.resume_button.clicked.connect(self.start)
        self.resume_button.hide()
        self.error = alerts.inline_label("banner", tone="bad")
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(self.eta)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addStretch(1)

    @property
    def running(self) -> bool:
        return self._handle is not None

    def initializePage(self) -> None:
        self.start()

    def start(self) -> None:
        wizard = self._wizard
        ctx, op, policy = wizard.ctx, wizard.operator, wizard.policy
        plan_path, source = wizard.plan_path, wizard.source
        if plan_path is None or source is None or self.running:
            return

        def work(control: TaskControl) -> RunSummary:
            from services.migration.plan import identities_path, load_plan
            from services.migration.run import run_migration

            # As ``migrate run PLAN``: the written, signed-off plan file is what runs.
            plan = load_plan(plan_path)
            return run_migration(ctx, op, plan, source, policy=policy,
                                 progress=control.progress,
                                 cancelled=lambda: control.cancelled,
                                 identities=identities_path(plan_path))

        self.summary = None
        self.error.hide()
        self.resume_button.hide()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)
        self.eta.setText("")
        self.status.setProperty("tone", "")
        self._polish()
        self.status.setText(f"Running {plan_path.name}…")
        self._started = time.monotonic()
        self._handle = wizard.runner.submit(
            work, owner=self, on_result=self._ran, on_error=self._failed,
            on_progress=self._progressed, on_cancelled=self._cancelled, on_done=self._done)
        self._wizard.set_running(True)
        self.cancel_button.setFocus()
        self.completeChanged.emit()

    def cancel(self) -> None:
        if self._handle is None:
            return
        self._handle.cancel()
        self.cancel_button.setEnabled(False)
        self.status.setText("Stopping after the batch in hand…")

    def _progressed(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, total))
        self.eta.setText(eta_text(time.monotonic() - self._started, done, total))
        self.progressed.emit(done, total)

    def _ran(self, summary: RunSummary) -> None:
        self.summary = summary
        self.bar.setRange(0, max(summary.total_identities, 1))
        self.bar.setValue(summary.total_identities)
        self.eta.setText("")
        if summary.already_done:
            self.status.setText("This plan was already run to completion; nothing changed.")
        else:
            self.status.setText(f"Done in {summary.seconds:.1f} s: {summary.created:,} "
                                f"identities created, {summary.merged:,} merges applied.")
        self.finished.emit()

    def _cancelled(self) -> None:
        # The runner drops the run's own summary once cancelled; the store says how far it got.
        wizard = self._wizard
        ctx, op = wizard.ctx, wizard.operator
        plan_id = str(wizard.plan["plan_id"]) if wizard.plan else ""

        def work(_control: TaskControl) -> dict[str, Any] | None:
            from services.migration.tracking import run_status

            return next((r for r in run_status(ctx, op) if r["plan_id"] == plan_id), None)

        self.eta.setText("")
        self.status.setText("Stopped. The store is consistent; Resume carries on where the run "
                            "stopped.")
        wizard.runner.submit(work, owner=self, on_result=self._stopped_at)
        self.resume_button.show()
        self.resume_button.setFocus()
        self.stopped.emit()

    def _stopped_at(self, run: dict[str, Any] | None) -> None:
        if run is None or self.running:
            return
        self.status.setText(f"Stopped after {run['batches_done']} of {run['batches_total']} "
                            f"batches ({run['outcomes']['created']:,} identities created so "
                            "far). The store is consistent; Resume carries on from the next "
                            "batch, or close the wizard and resume later.")

    def _failed(self, exc: Exception) -> None:
        self.status.setProperty("tone", "bad")
        self._polish()
        self.status.setText(f"The run stopped: {exc}")
        self.resume_button.show()

    def _done(self) -> None:
        self._handle = None
        self.cancel_button.hide()
        self._wizard.set_running(False)
        self.completeChanged.emit()
        if self.summary is not None and self._wizard.currentPage() is self:
            self._wizard.next()  # straight to the summary

    def _polish(self) -> None:
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def isComplete(self) -> bool:
        return not self.running and self.summary is not None


class SummaryPage(QWizardPage):
    """Step 7: what the run did, totals per organisation, and the report to export."""

    reported = Signal()
    exported = Signal(object)  # Path

    def __init__(self, wizard: MigrationWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.report: Report | None = None
        self.setTitle("Summary")
        self.setSubTitle("The migrated people are asked by e-mail to set a new password (send "
                         "the outbox: python main.py mail send). Track their progress on the "
                         "Migration page.")
        self.outcome = QLabel()
        self.outcome.setObjectName("banner")
        self.outcome.setProperty("tone", "good")
        self.outcome.setWordWrap(True)
        self.outcome.setTextFormat(Qt.TextFormat.PlainText)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        self.counts.setTextFormat(Qt.TextFormat.PlainText)
        self.model = MigrationTableModel(REPORT_COLUMNS, self)
        self.table = table_view(self.model, "migrationReport", stretch=1)
        self.table.setAccessibleName("Totals per organisation")
        self.csv_button = QPushButton("Export report as &CSV…")
        self.html_button = QPushButton("Export report as &HTML…")
        self.csv_button.clicked.connect(self.export_csv)
        self.html_button.clicked.connect(self.export_html)
        self.saved = fineprint()
        buttons = QHBoxLayout()
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.html_button)
        buttons.addWidget(self.saved, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.outcome)
        layout.addWidget(self.counts)
        layout.addWidget(caption("Totals per organisation"))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def initializePage(self) -> None:
        wizard = self._wizard
        summary, plan = wizard.run_page.summary, wizard.plan
        if summary is None or plan is None:
            return
        s = summary
        self.outcome.setText(
            f"Plan {s.plan_id[:8]} done: {s.created:,} identities created, {s.linked:,} "
            f"linked, {s.skipped:,} skipped; suggested merges applied: {s.merged:,} "
            f"({s.merges_refused:,} refused); {s.notices:,} reset notices queued.")
        self.counts.setText(f"{plan['counts']['rows']['rejected']:,} rows rejected, "
                            f"{plan['counts']['rows']['auto_merged']:,} merged "
                            "automatically as exact duplicates. Loading the report…")
        self._set_buttons(False)
        ctx, op = wizard.ctx, wizard.operator

        def work(_control: TaskControl) -> Report:
            from services.migration.report import build_report

            return build_report(ctx, op, plan)

        wizard.runner.submit(work, owner=self, on_result=self._reported)
        wizard.button(QWizard.WizardButton.FinishButton).setFocus()

    def _reported(self, report: Report) -> None:
        self.report = report
        self.model.set_records(report.organisations)
        merges = report.merges
        applied = sum(1 for m in merges if m["applied"])
        self.counts.setText(f"{len(report.rejected):,} rows rejected, {len(merges):,} merges "
                            f"in the plan ({applied:,} applied); "
                            f"{len(report.organisations):,} organisations in scope.")
        self._set_buttons(True)
        self.reported.emit()

    def _set_buttons(self, enabled: bool) -> None:
        self.csv_button.setEnabled(enabled)
        self.html_button.setEnabled(enabled)

    def export_csv(self) -> None:
        self._export("csv", "CSV files (*.csv)")

    def export_html(self) -> None:
        self._export("html", "Web pages (*.html)")

    def _export(self, kind: str, pattern: str) -> None:
        report, source = self.report, self._wizard.source
        if report is None or source is None:
            return
        default = source.with_name(f"{source.stem}.report.{kind}")
        path = migration_files.ask_save(self, "Export the migration report", default, pattern)
        if path is None:
            return

        def work(_control: TaskControl) -> Path:
            from services.migration.report import write_csv, write_html

            (write_csv if kind == "csv" else write_html)(report, path)
            return path

        self._wizard.runner.submit(work, owner=self, on_result=self._exported)

    def _exported(self, path: Path) -> None:
        self.saved.setText(f"Saved {path.name}.")
        self.exported.emit(path)
