"""The migration wizard's review steps: choose the export, preview how its columns map, the
plan's validation results, the suggested merges, and the sign-off that writes the plan file.

Nothing here writes to the store before the sign-off (the plan is a dry run,
``services.migration.plan.build_plan``); reading the file and planning run through the task
runner, so the window stays responsive on a 100,000-row export.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from ui import alerts, migration_files
from ui.migration_rejected_filter import REJECTED_COLUMNS, RejectedRowsFilter
from ui.migration_table_model import MigrationTableModel
from ui.task_runner import TaskControl, TaskHandle

if TYPE_CHECKING:
    from services.migration.reader import SourceInfo
    from ui.migration_wizard import MigrationWizard

SAMPLE_ROWS = 8
FIELD_TEXT = {"legacy_id": "Legacy ID", "email": "Login ID (e-mail)",
              "given_name": "Given name", "family_name": "Family name",
              "org_code": "Organisation code", "org_name": "Organisation name",
              "roles": "Roles", "status": "Status", "last_login": "Last login",
              "created": "Created"}
DELIMITER_TEXT = {",": "comma (,)", ";": "semicolon (;)", "\t": "tab", "|": "vertical bar (|)"}
ORG_COLUMNS = (("code", "Code"), ("name", "Organisation"), ("size", "Size"), ("rows", "Rows"),
               ("rejected", "Rejected"), ("create", "Identities"), ("disabled", "Disabled"),
               ("lso", "LSOs"), ("in_store", "In store"))
OUTCOME_COLUMNS = (("outcome", "Rows"), ("count", "Count"))
OUTCOME_TEXT = (("create", "become identities"), ("auto_merged", "merged automatically"),
                ("rejected", "rejected"), ("already_migrated", "already migrated"),
                ("collision", "collide with the store"))
MERGE_COLUMNS = (("decision_text", "Decision"), ("survivor", "Survivor"),
                 ("others", "Merged into it"), ("kind", "Kind"), ("score", "Score"),
                 ("reasons", "Why suggested"))


def table_view(model: Any, name: str, *, multi: bool = False,
               stretch: int | None = None) -> QTableView:
    """A read-only table; ``stretch``: the column that takes the spare width (else the
    last), so that columns of figures stay next to their labels."""
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection if multi
                          else QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(26)
    header = view.horizontalHeader()
    header.setStretchLastSection(stretch is None)
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return view


def caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("panelHeading")
    return label


def fineprint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("fineprint")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class ChoosePage(QWizardPage):
    """Step 1: the legacy export (CSV or JSON Lines)."""

    def __init__(self, wizard: MigrationWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Choose the legacy export")
        self.setSubTitle("A CSV file (UTF-8, UTF-8 with BOM or Windows-1252; the delimiter is "
                         "detected) or JSON Lines. Nothing is written to the store until you "
                         "sign the plan off and run it.")
        self.path = QLineEdit()
        self.path.setObjectName("migrationSource")
        self.path.setPlaceholderText("The export file")
        self.path.setAccessibleName("Legacy export file")
        self.path.setClearButtonEnabled(True)
        label = QLabel("&File")
        label.setBuddy(self.path)
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.path, 1)
        row.addWidget(self.browse_button)
        self.hint = fineprint("The columns are mapped through policies/migration.toml: header "
                              "names, legacy role codes, status values and the organisations "
                              "in scope. The next step shows the mapping before anything is "
                              "validated.")
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        self.path.textChanged.connect(self._changed)

    def initializePage(self) -> None:
        self.browse_button.setFocus()

    def browse(self) -> None:
        current = self.source()
        chosen = migration_files.ask_source(self, str(current.parent) if current else "")
        if chosen is not None:
            self.path.setText(str(chosen))

    def source(self) -> Path | None:
        text = self.path.text().strip()
        return Path(text) if text else None

    def _changed(self, _text: str) -> None:
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        source = self.source()
        return source is not None and source.is_file()

    def validatePage(self) -> bool:
        source = self.source()
        if source is None:
            return False
        self._wizard.set_source(source)
        return True


@dataclass
class Preview:
    info: SourceInfo
    rows: list[dict[str, Any]]


class MappingPage(QWizardPage):
    """Step 2: what was detected and how each column maps, with the first rows."""

    loaded = Signal()

    def __init__(self, wizard: MigrationWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.preview: Preview | None = None
        self._request = 0
        self.setTitle("Check the column mapping")
        self.setSubTitle("How the file was read and which Gatehouse field each column fills. "
                         "Columns the policy does not know are ignored.")
        self.detected = QLabel()
        self.detected.setObjectName("banner")
        self.detected.setWordWrap(True)
        self.detected.setTextFormat(Qt.TextFormat.PlainText)
        self.error = alerts.inline_label("banner", tone="bad")
        self.mapping_model = MigrationTableModel(
            (("column", "Column in the file"), ("field", "Gatehouse field"),
             ("note", "")), self)
        self.mapping = table_view(self.mapping_model, "migrationMapping")
        self.mapping.setAccessibleName("Column mapping")
        self.sample_model = MigrationTableModel((), self)
        self.sample = table_view(self.sample_model, "migrationSample")
        self.sample.setAccessibleName("First rows")
        layout = QVBoxLayout(self)
        layout.addWidget(self.detected)
        layout.addWidget(self.error)
        layout.addWidget(caption("Columns"))
        layout.addWidget(self.mapping, 2)
        layout.addWidget(caption(f"First {SAMPLE_ROWS} rows as mapped"))
        layout.addWidget(self.sample, 3)

    def initializePage(self) -> None:
        wizard = self._wizard
        source, policy = wizard.source, wizard.policy
        if source is None:
            return
        self.preview = None
        self.error.hide()
        self.detected.setText(f"Reading {source.name}…")
        self._request += 1
        request = self._request

        def work(_control: TaskControl) -> tuple[int, Preview]:
            from services.migration.reader import open_source
            from services.migration.validate import RowValidator

            opened = open_source(source, policy)
            validator = RowValidator(policy)
            rows: list[dict[str, Any]] = []
            for item in opened.rows():
                record: dict[str, Any] = {"row": item.number, **(item.values or {})}
                if item.problem is not None:
                    record["check"] = item.problem.message
                else:
                    checked = validator.check(item.number, item.line, item.values or {})
                    reasons = getattr(checked, "reasons", ())
                    record["check"] = "rejected: " + ", ".join(reasons) if reasons else "ok"
                rows.append(record)
                if len(rows) >= SAMPLE_ROWS:
                    break
            return request, Preview(opened.info, rows)

        wizard.runner.submit(work, owner=self, on_result=self._previewed,
                             on_error=self._failed)
        self.completeChanged.emit()

    def _previewed(self, result: tuple[int, Preview]) -> None:
        request, preview = result
        if request != self._request:
            return
        self.preview = preview
        info = preview.info
        policy = self._wizard.policy
        shape = ("JSON Lines" if info.format == "jsonl" else
                 f"CSV, delimiter {DELIMITER_TEXT.get(info.delimiter or '', info.delimiter)}")
        self.detected.setText(f"{info.name}: {shape}, encoding {info.encoding}, "
                              f"{info.size:,} bytes, {len(info.header)} columns "
                              f"({len(info.columns)} mapped). Policy: {policy.name}.")
        by_header = {header: name for name, header in info.columns.items()}
        self.mapping_model.set_records([
            {"column": header,
             "field": FIELD_TEXT.get(by_header[header], by_header[header])
             if header in by_header else "—",
             "note": ("required" if by_header.get(header) in policy.required else "optional")
             if header in by_header else "ignored (not in the policy)"}
            for header in info.header])
        fields = [f for f in FIELD_TEXT if f in info.columns]
        self.sample_model = MigrationTableModel(
            [("row", "Row"), *((f, FIELD_TEXT[f]) for f in fields), ("check", "Check")], self)
        self.sample_model.set_records(preview.rows)
        self.sample.setModel(self.sample_model)
        self.loaded.emit()
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self.detected.setText("The file cannot be migrated as it is.")
        self.error.setText(str(exc))
        self.error.show()
        self.loaded.emit()

    def isComplete(self) -> bool:
        return self.preview is not None


class ValidationPage(QWizardPage):
    """Step 3: the plan (a dry run): counts per outcome and organisation, rejected rows."""

    planned = Signal()

    def __init__(self, wizard: MigrationWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._handle: TaskHandle | None = None
        self.setTitle("Validation results")
        self.setSubTitle("Every row checked against the policy and grouped into identities "
                         "(a dry run: nothing is written). Rejected rows stay in the legacy "
                         "system; fix them there and export again.")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Planning progress")
        self.progress.setTextVisible(True)
        self.totals = QLabel()
        self.totals.setObjectName("banner")
        self.totals.setWordWrap(True)
        self.totals.setTextFormat(Qt.TextFormat.PlainText)
        self.error = alerts.inline_label("banner", tone="bad")
        self.outcome_model = MigrationTableModel(OUTCOME_COLUMNS, self)
        self.outcomes = table_view(self.outcome_model, "migrationOutcomes", stretch=0)
        self.outcomes.setAccessibleName("Rows per outcome")
        self.org_model = MigrationTableModel(ORG_COLUMNS, self)
        self.orgs = table_view(self.org_model, "migrationOrganisations", stretch=1)
        self.orgs.setAccessibleName("Counts per organisation")
        self.rejected_model = MigrationTableModel(REJECTED_COLUMNS, self)
        self.rejected_filter = RejectedRowsFilter(self.rejected_model, self)
        self.rejected = table_view(self.rejected_filter, "migrationRejected")
        self.rejected.setAccessibleName("Rejected rows")
        self.rejected.setSortingEnabled(True)
        self.rejected.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Interactive)
        self.reason = QComboBox()
        self.reason.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.reason.setAccessibleName("Show rejected rows for reason")
        self.reason.currentIndexChanged.connect(self._reason_changed)
        reason_label = QLabel("&Reason")
        reason_label.setBuddy(self.reason)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by legacy ID, organisation or message")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Filter rejected rows")
        self.search.textChanged.connect(self.rejected_filter.set_text)
        self.search.textChanged.connect(self._filtered)
        search_label = QLabel("&Filter")
        search_label.setBuddy(self.search)
        self.shown = fineprint()
        filters = QHBoxLayout()
        filters.addWidget(search_label)
        filters.addWidget(self.search, 1)
        filters.addWidget(reason_label)
        filters.addWidget(self.reason)
        filters.addWidget(self.shown)

        counts = QWidget()
        counts_layout = QHBoxLayout(counts)
        counts_layout.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.addWidget(caption("Rows per outcome"))
        left.addWidget(self.outcomes)
        right = QVBoxLayout()
        right.addWidget(caption("Per organisation"))
        right.addWidget(self.orgs)
        counts_layout.addLayout(left, 2)
        counts_layout.addLayout(right, 5)
        rejected_box = QWidget()
        rejected_layout = QVBoxLayout(rejected_box)
        rejected_layout.setContentsMargins(0, 0, 0, 0)
        rejected_layout.addWidget(caption("Rejected rows"))
        rejected_layout.addLayout(filters)
        rejected_layout.addWidget(self.rejected)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(counts)
        split.addWidget(rejected_box)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.totals)
        layout.addWidget(self.error)
        layout.addWidget(split, 1)

    def initializePage(self) -> None:
        wizard = self._wizard
        ctx, op, source, policy = wizard.ctx, wizard.operator, wizard.source, wizard.policy
        if source is None:
            return
        wizard.plan, wizard.plan_identities = None, None
        self.error.hide()
        self.totals.setText(f"Planning {source.name}…")
        self.progress.setRange(0, 0)
        self.progress.show()

        def work(control: TaskControl) -> tuple[dict[str, Any], bytes]:
            from services.migration.plan import build_plan_with_identities

            # As ``migrate plan``: the store is read (organisations, login IDs, legacy ids
            # already migrated), never written.
            return build_plan_with_identities(ctx, op, source, policy,
                                              progress=control.progress,
                                              cancelled=lambda: control.cancelled)

        self._handle = wizard.runner.submit(work, owner=self, on_result=self._planned,
                                            on_error=self._failed,
                                            on_progress=self._progressed)
        self.completeChanged.emit()

    def cleanupPage(self) -> None:
        if self._handle is not None:
            self._handle.cancel()  # Back while planning: the plan is not wanted any more

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, total))

    def _planned(self, made: tuple[dict[str, Any], bytes]) -> None:
        self._handle = None
        wizard = self._wizard
        plan, wizard.plan_identities = made
        wizard.plan = plan
        self.progress.hide()
        counts = plan["counts"]
        rows, ids = counts["rows"], counts["identities"]
        self.totals.setText(
            f"{rows['total']:,} rows: {ids['create']:,} identities to create "
            f"({ids['active']:,} active, {ids['disabled']:,} disabled, {ids['lso']:,} LSOs who "
            f"must enrol MFA); {rows['rejected']:,} rows rejected; "
            f"{counts['suggested_merges']:,} suggested merges to decide next.")
        self.outcome_model.set_records(
            [{"outcome": text, "count": rows[key]} for key, text in OUTCOME_TEXT]
            + [{"outcome": f"rejected: {reason.replace('_', ' ')}", "count": n}
               for reason, n in counts["rejected_by_reason"].items()])
        self.org_model.set_records(plan["organisations"])
        self.rejected_model.set_records(plan["rejected"])
        self.reason.blockSignals(True)
        self.reason.clear()
        self.reason.addItem("Every reason", None)
        for reason, n in counts["rejected_by_reason"].items():
            self.reason.addItem(f"{reason.replace('_', ' ')} ({n:,})", reason)
        self.reason.blockSignals(False)
        self.rejected_filter.set_reason(None)
        self.rejected.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.rejected.resizeColumnsToContents()  # once: Qt samples at most 1,000 rows
        self._filtered()
        self.planned.emit()
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self._handle = None
        self.progress.hide()
        self.totals.setText("No plan was made.")
        self.error.setText(str(exc))
        self.error.show()
        self.planned.emit()

    def _reason_changed(self, _index: int) -> None:
        self.rejected_filter.set_reason(self.reason.currentData())
        self._filtered()

    def choose_reason(self, reason: str | None) -> None:
        self.reason.setCurrentIndex(max(self.reason.findData(reason), 0))

    def _filtered(self, _text: str = "") -> None:
        shown, total = self.rejected_filter.rowCount(), self.rejected_model.rowCount()
        self.shown.setText(f"{shown:,} of {total:,} shown")

    def isComplete(self) -> bool:
        return self._wizard.plan is not None


DECISION_TEXT = {None: "undecided", "confirmed": "confirm: merge",
                 "rejected": "reject: keep apart"}


class MergesPage(QWizardPage):
    """Step 4: suggested merges, confirmed or rejected one by one or in bulk; never merged
    silently (programme decision 2: only an admin's confirmation merges people)."""

    def __init__(self, wizard: MigrationWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Decide the suggested merges")
        self.setSubTitle("Accounts that look like one person's (numeric-suffix variants, same "
                         "name in the same organisation). Confirm to merge them into the "
                         "survivor during the run; reject to migrate them apart.")
        self.model = MigrationTableModel(MERGE_COLUMNS, self)
        self.table = table_view(self.model, "migrationMerges", multi=True)
        self.table.setAccessibleName("Suggested merges")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.confirm_button = QPushButton("&Confirm selected")
        self.confirm_button.setToolTip("Merge the selected suggestions during the run")
        self.reject_button = QPushButton("&Reject selected")
        self.reject_button.setToolTip("Keep the selected accounts apart")
        self.confirm_all_button = QPushButton("Confirm all &undecided")
        self.reject_all_button = QPushButton("Reject all u&ndecided")
        self.confirm_button.clicked.connect(self.confirm_selected)
        self.reject_button.clicked.connect(self.reject_selected)
        self.confirm_all_button.clicked.connect(self.confirm_all)
        self.reject_all_button.clicked.connect(self.reject_all)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.activated.connect(self._activated)
        self.status = QLabel()
        self.status.setObjectName("banner")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm_button)
        buttons.addWidget(self.reject_button)
        buttons.addStretch(1)
        buttons.addWidget(self.confirm_all_button)
        buttons.addWidget(self.reject_all_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def initializePage(self) -> None:
        self._refresh()
        if self.model.rowCount():
            self.table.selectRow(0)
        self.table.setFocus()

    def _suggestions(self) -> list[dict[str, Any]]:
        plan = self._wizard.plan
        return list(plan["suggested_merges"]) if plan else []

    def _refresh(self) -> None:
        selected = [i.row() for i in self.table.selectionModel().selectedRows()]
        records = [{**s, "decision_text": DECISION_TEXT.get(s["decision"], s["decision"]),
                    "others": [k for k in s["keys"] if k != s["survivor"]],
                    "score": f"{s['score']:.2f}" if isinstance(s["score"], float)
                    else s["score"]} for s in self._suggestions()]
        self.model.set_records(records)
        self.table.resizeColumnsToContents()
        selection = self.table.selectionModel()
        for row in selected:
            index = self.model.index(row, 0)
            selection.select(index, selection.SelectionFlag.Select
                             | selection.SelectionFlag.Rows)
        undecided = self.undecided()
        total = len(records)
        if not total:
            self.status.setText("No suggested merges: every account migrates as its own "
                                "identity (exact duplicates were merged automatically).")
        elif undecided:
            self.status.setText(f"{undecided:,} of {total:,} suggested merges undecided. Each "
                                "must be confirmed or rejected before the plan can be signed "
                                "off.")
        else:
            confirmed = sum(1 for r in records if r["decision"] == "confirmed")
            self.status.setText(f"All {total:,} decided: {confirmed:,} to merge, "
                                f"{total - confirmed:,} kept apart.")
        self._update_buttons()
        self.completeChanged.emit()

    def undecided(self) -> int:
        return sum(1 for s in self._suggestions() if s["decision"] is None)

    def _selected_ids(self) -> list[str]:
        return [str(self.model.value(i.row(), "id"))
                for i in self.table.selectionModel().selectedRows()]

    def _decide(self, **choice: Any) -> None:
        from services.errors import GatehouseError
        from services.migration.plan import decide

        plan = self._wizard.plan
        if plan is None:
            return
        # In memory only (as ``migrate decide``): the plan file is written at sign-off.
        try:
            decide(plan, self._wizard.operator, self._wizard.ctx.now(), **choice)
        except GatehouseError as exc:
            alerts.show_error(self, str(exc))
        self._refresh()

    def confirm_selected(self) -> None:
        self._decide(confirm=self._selected_ids())

    def reject_selected(self) -> None:
        self._decide(reject=self._selected_ids())

    def confirm_all(self) -> None:
        self._decide(confirm_all=True)

    def reject_all(self) -> None:
        self._decide(reject_all=True)

    def _activated(self, _index: object) -> None:
        self.confirm_selected()  # Enter on a row confirms it; Reject stays one key away

    def _update_buttons(self) -> None:
        has = self.table.selectionModel().hasSelection()
        self.confirm_button.setEnabled(has)
        self.reject_button.setEnabled(has)
        undecided = self.undecided() > 0
        self.confirm_all_button.setEnabled(undecided)
        self.reject_all_button.setEnabled(undecided)

    def isComplete(self) -> bool:
        return self._wizard.plan is not None and self.undecided() == 0


class SignOffPage(QWizardPage):
    """Step 5: the plan in words, where its file goes, and the sign-off that writes it."""

    signed = Signal()

    def __init__(self, wizard: MigrationWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._busy = False
        self.setTitle("Sign off the plan")
        self.setSubTitle("Your sign-off is recorded in the plan and the audit trail, over a "
                         "digest of the whole plan: a plan edited afterwards, or a changed "
                         "export, is refused by the run.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Run the migration")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plan_path = QLineEdit()
        self.plan_path.setAccessibleName("Plan file")
        self.plan_path.setReadOnly(True)
        self.change_button = QPushButton("C&hange…")
        self.change_button.clicked.connect(self.change_path)
        path_row = QHBoxLayout()
        path_row.addWidget(self.plan_path, 1)
        path_row.addWidget(self.change_button)
        form = QFormLayout()
        form.addRow("Plan file", path_row)
        self.sign_button = QPushButton("&Sign off and write the plan")
        self.sign_button.setDefault(False)
        self.sign_button.clicked.connect(self.sign)
        self.outcome = alerts.inline_label("banner", tone="good")
        self.error = alerts.inline_label("banner", tone="bad")
        sign_row = QHBoxLayout()
        sign_row.addWidget(self.sign_button)
        sign_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addLayout(sign_row)
        layout.addWidget(self.outcome)
        layout.addWidget(self.error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        wizard = self._wizard
        plan, source = wizard.plan, wizard.source
        if plan is None or source is None:
            return
        if wizard.plan_path is None:
            wizard.plan_path = migration_files.default_plan_path(source)
        self.plan_path.setText(str(wizard.plan_path))
        counts = plan["counts"]
        rows, ids = counts["rows"], counts["identities"]
        decided = [s for s in plan["suggested_merges"] if s["decision"] == "confirmed"]
        self.summary.setText("\n".join([
            f"Source: {plan['source']['name']} ({plan['source']['format']}, "
            f"{plan['source']['encoding']}, SHA-256 {plan['source']['sha256'][:16]}…).",
            f"Rows: {rows['total']:,} — {rows['create']:,} become identities, "
            f"{rows['auto_merged']:,} merged automatically, {rows['rejected']:,} rejected, "
            f"{rows['already_migrated']:,} already migrated, {rows['collision']:,} collide "
            "with identities in the store.",
            f"Identities to create: {ids['create']:,} ({ids['active']:,} active, "
            f"{ids['disabled']:,} disabled; {ids['lso']:,} LSOs who must enrol MFA). Each "
            "active one gets a reset code and a notice; no legacy password is carried over.",
            f"Suggested merges: {len(decided):,} confirmed, "
            f"{len(plan['suggested_merges']) - len(decided):,} rejected.",
        ]))
        self._show_signed()
        self.sign_button.setFocus()

    def change_path(self) -> None:
        wizard = self._wizard
        if wizard.plan_path is None:
            return
        chosen = migration_files.ask_save(self, "Write the plan to", wizard.plan_path,
                                          "Migration plans (*.json)")
        if chosen is not None:
            wizard.plan_path = chosen
            self.plan_path.setText(str(chosen))

    def sign(self) -> None:
        wizard = self._wizard
        plan, path, identities = wizard.plan, wizard.plan_path, wizard.plan_identities
        ctx, op = wizard.ctx, wizard.operator
        if plan is None or path is None or self._busy or plan.get("sign_off"):
            return

        def work(_control: TaskControl) -> dict[str, Any]:
            from services.audit import Change
            from services.migration.plan import sign_off, write_plan

            # As ``migrate sign-off``: recorded in the plan and the audit trail, then written.
            signed = dict(plan)
            record = sign_off(signed, op, ctx.now())
            with ctx.store.write() as conn:
                ctx.record(conn, op, "migration.sign_off", "migration_plan",
                           signed["plan_id"], change=Change(after={
                               "source_sha256": signed["source"]["sha256"],
                               "plan_digest": record["digest"]}))
            write_plan(path, signed, identities)
            return signed

        self._set_busy(True)
        self.error.hide()
        wizard.runner.submit(work, owner=self, on_result=self._signed, on_error=self._failed,
                             on_done=self._done)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.sign_button.setEnabled(not busy)
        self.change_button.setEnabled(not busy)
        self.completeChanged.emit()

    def _done(self) -> None:
        self._set_busy(False)
        self._show_signed()

    def _signed(self, plan: dict[str, Any]) -> None:
        self._wizard.plan = plan
        self.signed.emit()

    def _show_signed(self) -> None:
        plan = self._wizard.plan
        signed = plan.get("sign_off") if plan else None
        self.sign_button.setVisible(signed is None)
        self.change_button.setEnabled(signed is None and not self._busy)
        if signed:
            self.outcome.setText(f"Signed off by {signed['by']} at {signed['at']}; written to "
                                 f"{self._wizard.plan_path}. Next runs it.")
            self.outcome.show()
            button = self._wizard.button(QWizard.WizardButton.CommitButton)
            button.setFocus()
        else:
            self.outcome.hide()
        self.completeChanged.emit()

    def _failed(self, exc: Exception) -> None:
        self.error.setText(f"The plan was not signed off: {exc}")
        self.error.show()

    def isComplete(self) -> bool:
        plan = self._wizard.plan
        return not self._busy and plan is not None and plan.get("sign_off") is not None
