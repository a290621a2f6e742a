"""The Migration page (issue 5): the runs in this store with their status, and migration
tracked to completion per organisation and size band — passwords set, resets pending, codes
expired — as a table and a chart; for a platform admin, the wizard, "Resume a stopped run" (the
wizard at its run step, for the plan file the admin points to) and "Send reminders".

Admins and security reviewers see it (``MIGRATION_READ``); a reviewer reads only. The figures
are ``services.migration.tracking``'s, as ``migrate status`` and ``migrate progress`` print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ui import alerts, migration_files
from ui.appearance import icon
from ui.migration_completion_chart import MigrationCompletionChart
from ui.migration_plan_pages import caption, table_view
from ui.migration_table_model import MigrationTableModel
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from policies.migration_policy import MigrationPolicy
    from services.authz import Operator
    from services.context import Context
    from services.migration.tracking import ProgressRow, RemindResult
    from ui.migration_wizard import MigrationWizard

RUN_COLUMNS = (("plan", "Plan"), ("source", "Source"), ("status", "Status"),
               ("batches", "Batches"), ("created", "Created"), ("linked", "Linked"),
               ("skipped", "Skipped"), ("merged_away", "Merged away"),
               ("started_by", "Started by"), ("started_at", "Started (UTC)"))
PROGRESS_COLUMNS = (("organisation", "Organisation"), ("size_band", "Size"),
                    ("migrated", "Migrated"), ("completed", "Password set"),
                    ("pending", "Reset pending"), ("expired", "Code expired"),
                    ("disabled", "Disabled"))
STATUS_TEXT = {"running": "running", "cancelled": "stopped: resumable", "done": "done"}


@dataclass
class Resumable:
    """A plan file read for Resume: the plan, and its export if it lies beside the plan."""

    path: Path
    plan: dict[str, Any]
    source: Path | None


@dataclass
class Tracking:
    runs: list[dict[str, Any]]
    rows: list[ProgressRow]
    totals: dict[str, int]


class MigrationPage(QWidget):
    def __init__(self, ctx: Context, op: Operator, runner: TaskRunner, *,
                 policy: MigrationPolicy | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from services.authz import Action, allowed

        self._ctx, self._op, self._runner, self._policy = ctx, op, runner, policy
        self.can_run = allowed(op, Action.MIGRATION_RUN)
        self.tracking: Tracking | None = None
        self.wizard: MigrationWizard | None = None
        self._loading = False

        title = QLabel("Migration")
        title.setObjectName("pageTitle")
        note = QLabel("Legacy accounts moved into the identity store with a forced password "
                      "reset, and how far each organisation has got: who has set a new "
                      "password, whose reset is pending, whose code has expired.")
        note.setObjectName("fineprint")
        note.setWordWrap(True)
        self.start_button = QPushButton(icon("migration"), "&New migration…")
        self.start_button.setToolTip("Plan, review, sign off and run a legacy export")
        self.start_button.clicked.connect(self.start_wizard)
        self.resume_button = QPushButton("Res&ume a stopped run…")
        self.resume_button.setToolTip("Choose the plan file of a run that was cancelled or "
                                      "interrupted; it carries on from its next batch")
        self.resume_button.clicked.connect(self.resume_run)
        self.resume_button.setEnabled(False)
        self.remind_button = QPushButton("Send re&minders")
        self.remind_button.setToolTip("Re-issue expired reset codes and e-mail a reminder "
                                      "(at most once a week, three times in all)")
        self.remind_button.clicked.connect(self.send_reminders)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.load)
        for button in (self.start_button, self.resume_button, self.remind_button):
            button.setVisible(self.can_run)
        actions = QHBoxLayout()
        actions.addWidget(self.start_button)
        actions.addWidget(self.resume_button)
        actions.addWidget(self.remind_button)
        actions.addStretch(1)
        actions.addWidget(self.refresh_button)

        self.totals = QLabel("Loading…")
        self.totals.setObjectName("banner")
        self.totals.setWordWrap(True)
        self.result = alerts.inline_label("banner", tone="good")
        self.runs_model = MigrationTableModel(RUN_COLUMNS, self)
        self.runs_view = table_view(self.runs_model, "migrationRuns")
        self.runs_view.setAccessibleName("Migration runs")
        self.runs_view.setMaximumHeight(130)
        self.progress_model = MigrationTableModel(PROGRESS_COLUMNS, self)
        self.progress_view = table_view(self.progress_model, "migrationProgress")
        self.progress_view.setAccessibleName("Completion by organisation and size band")
        self.progress_view.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.chart = MigrationCompletionChart()
        # Sixteen organisations in three bands outgrow a short window: the chart scrolls
        # rather than being squeezed until its last bars are cut off.
        chart_area = QScrollArea()
        chart_area.setWidget(self.chart)
        chart_area.setWidgetResizable(True)
        chart_area.setFrameShape(QFrame.Shape.NoFrame)
        chart_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        by_org = QHBoxLayout()
        table_side = QVBoxLayout()
        table_side.addWidget(self.progress_view)
        by_org.addLayout(table_side, 5)
        by_org.addWidget(chart_area, 4)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addLayout(actions)
        layout.addWidget(self.totals)
        layout.addWidget(self.result)
        layout.addWidget(caption("Runs"))
        layout.addWidget(self.runs_view)
        layout.addWidget(caption("Tracking to completion, by organisation and size band"))
        layout.addLayout(by_org, 1)
        QWidget.setTabOrder(self.start_button, self.resume_button)
        QWidget.setTabOrder(self.resume_button, self.remind_button)
        QWidget.setTabOrder(self.remind_button, self.refresh_button)
        QWidget.setTabOrder(self.refresh_button, self.runs_view)
        QWidget.setTabOrder(self.runs_view, self.progress_view)

    # ---- loading -------------------------------------------------------------------------

    def activate(self) -> None:
        self.load()

    def load(self) -> None:
        if self._loading:
            return
        ctx, op = self._ctx, self._op

        def work(_control: TaskControl) -> Tracking:
            from services.migration.tracking import completion, run_status, totals

            rows = completion(ctx, op)
            return Tracking(run_status(ctx, op), rows, totals(rows))

        self._loading = True
        self.refresh_button.setEnabled(False)
        self._runner.submit(work, owner=self, on_result=self._loaded, on_done=self._load_done)

    def _load_done(self) -> None:
        self._loading = False
        self.refresh_button.setEnabled(True)

    def _loaded(self, tracking: Tracking) -> None:
        self.tracking = tracking
        self.runs_model.set_records([
            {"plan": r["plan_id"][:8], "source": r["source"],
             "status": STATUS_TEXT.get(r["status"], r["status"]),
             "batches": f"{r['batches_done']} of {r['batches_total']}",
             **r["outcomes"], "started_by": r["started_by"],
             "started_at": r["started_at"][:16].replace("T", " ")} for r in tracking.runs])
        self.resume_button.setEnabled(any(r["status"] != "done" for r in tracking.runs))
        self.progress_model.set_records([r.as_dict() for r in tracking.rows])
        self.chart.set_rows(tracking.rows)
        t = tracking.totals
        if not tracking.runs:
            self.totals.setText("No migration has been run in this store yet."
                                + (" Start one with New migration." if self.can_run else ""))
        else:
            self.totals.setText(
                f"{t['completed']:,} of {t['migrated']:,} migrated identities have set a new "
                f"password; {t['pending']:,} pending, {t['expired']:,} with an expired code, "
                f"{t['disabled']:,} disabled.")

    # ---- actions -------------------------------------------------------------------------

    def start_wizard(self) -> MigrationWizard:
        from ui.migration_wizard import MigrationWizard

        wizard = MigrationWizard(self._ctx, self._op, self._runner, policy=self._policy,
                                 parent=self)
        wizard.migrated.connect(self.load)
        wizard.finished.connect(self._wizard_closed)
        self.wizard = wizard
        wizard.open()
        return wizard

    def resume_run(self) -> None:
        """Ask for the plan file of a stopped run, check it is one, and open the wizard at its
        run step. The export is looked for beside the plan, as ``migrate run`` does."""
        path = migration_files.ask_plan(self)
        if path is None:
            return
        ctx, op = self._ctx, self._op

        def work(_control: TaskControl) -> Resumable:
            from services.migration.plan import PlanRefused, load_plan
            from services.migration.tracking import run_status

            plan = load_plan(path)  # refuses a file that is not a plan, or an edited one
            if plan.get("sign_off") is None:
                raise PlanRefused(f"{path.name} has not been signed off, so it has never run; "
                                  "take it through New migration.")
            run = next((r for r in run_status(ctx, op) if r["plan_id"] == plan["plan_id"]),
                       None)
            if run is None:
                raise PlanRefused(f"{path.name} has not been run in this store; start it with "
                                  "New migration.")
            if run["status"] == "done":
                raise PlanRefused(f"{path.name} has already run to completion; nothing is "
                                  "left to resume.")
            source = path.with_name(str(plan["source"]["name"]))
            return Resumable(path, plan, source if source.is_file() else None)

        self.resume_button.setEnabled(False)
        self._runner.submit(work, owner=self, on_result=self._open_resumed,
                            on_done=self._resume_done)

    def _resume_done(self) -> None:
        if self.tracking is not None:
            self.resume_button.setEnabled(any(r["status"] != "done"
                                              for r in self.tracking.runs))

    def _open_resumed(self, found: Resumable) -> None:
        from ui.migration_wizard import MigrationWizard

        source = found.source or migration_files.ask_source(self, str(found.path.parent))
        if source is None:
            return  # the run checks the export's SHA-256 against the plan before anything
        wizard = MigrationWizard(self._ctx, self._op, self._runner, policy=self._policy,
                                 parent=self)
        wizard.resume(found.path, found.plan, source)
        wizard.migrated.connect(self.load)
        wizard.finished.connect(self._wizard_closed)
        self.wizard = wizard
        wizard.open()

    def _wizard_closed(self, _result: int) -> None:
        self.load()  # a cancelled run shows as resumable

    def send_reminders(self) -> None:
        expired = self.tracking.totals["expired"] if self.tracking else 0
        if not alerts.confirm(self, f"Re-issue the expired reset codes ({expired:,} now) and "
                              "e-mail a reminder to each? People reminded in the last week, or "
                              "three times already, are left out.", "Send reminders"):
            return
        ctx, op = self._ctx, self._op

        def work(_control: TaskControl) -> RemindResult:
            from services.migration.tracking import remind

            return remind(ctx, op)

        self.remind_button.setEnabled(False)
        self._runner.submit(work, owner=self, on_result=self._reminded,
                            on_done=self._remind_done)

    def _remind_done(self) -> None:
        self.remind_button.setEnabled(True)
        self.load()

    def _reminded(self, result: RemindResult) -> None:
        self.result.setText(f"{result.reminded:,} reminders queued with new reset codes; "
                            f"{result.rate_limited:,} not reminded yet (reminded too recently "
                            "or too often). Send them with the outbox (python main.py mail "
                            "send).")
        self.result.show()
