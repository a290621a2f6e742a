"""The merge wizard: combine one person's accounts into one carrying all their roles
(programme decision 2).

Pick the accounts (search, or start from a suggestion) → a side-by-side preview of the result
with the conflicts highlighted and settled here (organisation, roles policy keeps apart) →
confirm → the result, with an undo. The plan is the service's (``services.merge.plan_merge``);
the merge applies it only if no account changed since it was read, so a concurrent change is
refused ("changed by someone else") rather than merged over. Every call runs through the task
runner; nothing here blocks the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from ui import alerts
from ui.appearance import fit_to_screen
from ui.merge_accounts_model import AccountResultsModel, ChosenAccountsModel
from ui.merge_preview_model import MergePreviewModel
from ui.task_runner import TaskControl, TaskRunner
from ui.users_model import STATUS_TEXT

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.merge import MergePlan, MergeResult, UnmergeResult
    from services.users import IdentitySummary

SEARCH_LIMIT = 50
SEARCH_DELAY_MS = 250  # type, then search: one query per pause, not per keystroke
PICK, PREVIEW, CONFIRM, RESULT = range(4)
CHOOSE = "— choose —"


def _table(model: object, name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)  # type: ignore[arg-type]
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(26)
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    # A few dozen rows at most: measuring them is cheap, and nothing is clipped.
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return view


class PickPage(QWizardPage):
    """Step 1: the accounts to merge, the survivor first."""

    searched = Signal()

    def __init__(self, wizard: MergeWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._search_id = 0
        self.setTitle("Choose the accounts to merge")
        self.setSubTitle("Find the person's accounts and add them. The survivor keeps its login "
                         "ID and subject id; the others become aliases of it and give it their "
                         "roles.")
        self.search = QLineEdit()
        self.search.setObjectName("mergeSearch")
        self.search.setPlaceholderText("Search login ID, name or organisation")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search accounts")
        search_caption = QLabel("&Find")
        search_caption.setBuddy(self.search)
        self.results_model = AccountResultsModel(self)
        self.results = _table(self.results_model, "mergeResults")
        self.results.setAccessibleName("Search results")
        self.add_button = QPushButton("&Add ↓")
        self.add_button.setToolTip("Add the selected account to the merge (Enter)")
        self.chosen_model = ChosenAccountsModel(self)
        self.chosen = _table(self.chosen_model, "mergeChosen")
        self.chosen.setAccessibleName("Accounts to merge")
        self.survivor_button = QPushButton("Make &survivor")
        self.survivor_button.setToolTip("Keep this account's login ID and subject id")
        self.remove_button = QPushButton("&Remove")
        self.hint = QLabel()
        self.hint.setObjectName("fineprint")
        self.hint.setWordWrap(True)

        search_row = QHBoxLayout()
        search_row.addWidget(search_caption)
        search_row.addWidget(self.search, 1)
        add_row = QHBoxLayout()
        add_row.addStretch(1)
        add_row.addWidget(self.add_button)
        chosen_caption = QLabel("Accounts to merge")
        chosen_caption.setObjectName("caption")
        chosen_buttons = QHBoxLayout()
        chosen_buttons.addWidget(self.survivor_button)
        chosen_buttons.addWidget(self.remove_button)
        chosen_buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(search_row)
        layout.addWidget(self.results, 3)
        layout.addLayout(add_row)
        layout.addWidget(chosen_caption)
        layout.addWidget(self.chosen, 2)
        layout.addLayout(chosen_buttons)
        layout.addWidget(self.hint)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(self._timer.start)
        self.search.returnPressed.connect(self.run_search)
        self.add_button.clicked.connect(self.add_selected)
        self.results.activated.connect(self._result_activated)
        self.survivor_button.clicked.connect(self.make_survivor)
        self.remove_button.clicked.connect(self.remove_selected)
        self.chosen_model.modelReset.connect(self._chosen_changed)
        self.results.selectionModel().selectionChanged.connect(self._update_buttons)
        self.chosen.selectionModel().selectionChanged.connect(self._update_buttons)
        self._chosen_changed()

    def initializePage(self) -> None:
        self.search.setFocus()
        if not self.results_model.rowCount():
            self.run_search()

    def run_search(self) -> None:
        self._timer.stop()
        ctx, op, text = self._wizard.ctx, self._wizard.operator, self.search.text()
        self._search_id += 1
        request = self._search_id

        def work(_control: TaskControl) -> tuple[int, list[IdentitySummary]]:
            from services.users import list_identities

            return request, list_identities(ctx, op, search=text, limit=SEARCH_LIMIT)

        self._wizard.runner.submit(work, owner=self, on_result=self._results_arrived)

    def _results_arrived(self, found: tuple[int, list[IdentitySummary]]) -> None:
        request, rows = found
        if request != self._search_id:
            return  # an older search, overtaken while it ran
        self.results_model.set_records(rows)
        if rows:
            self.results.selectRow(0)
        self._update_buttons()
        self.searched.emit()

    def add_accounts(self, accounts: Sequence[IdentitySummary]) -> None:
        for account in accounts:
            self.chosen_model.add(account)

    def add_selected(self) -> None:
        rows = self.results.selectionModel().selectedRows()
        if rows:
            record = self.results_model.record_at(rows[0].row())
            if record is not None:
                self.chosen_model.add(record)

    def _result_activated(self, _index: QModelIndex) -> None:
        self.add_selected()

    def _selected_chosen(self) -> int | None:
        rows = self.chosen.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def make_survivor(self) -> None:
        row = self._selected_chosen()
        if row is not None:
            self.chosen_model.make_survivor(row)
            self.chosen.selectRow(0)

    def remove_selected(self) -> None:
        row = self._selected_chosen()
        if row is not None:
            self.chosen_model.remove(row)

    def _chosen_changed(self) -> None:
        count = self.chosen_model.rowCount()
        if count == 0:
            self.hint.setText("Add at least two accounts. The first one added is the survivor; "
                              "choose another with Make survivor.")
        elif count == 1:
            self.hint.setText("Add at least one more account of the same person.")
        else:
            self.hint.setText(f"{count - 1} account(s) will be merged into "
                              f"{self.chosen_model.records[0].login_id}. Next shows the result "
                              "before anything changes.")
        self._update_buttons()
        self.completeChanged.emit()

    def _update_buttons(self) -> None:
        self.add_button.setEnabled(self.results.selectionModel().hasSelection())
        row = self._selected_chosen()
        self.survivor_button.setEnabled(row is not None and row > 0)
        self.remove_button.setEnabled(row is not None)

    def isComplete(self) -> bool:
        return self.chosen_model.rowCount() >= 2


class PreviewPage(QWizardPage):
    """Step 2: the result side by side with the accounts; conflicts settled here."""

    planned = Signal(object)  # MergePlan

    def __init__(self, wizard: MergeWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._busy = False
        self._plan_id = 0
        self.plan: MergePlan | None = None
        # Choices survive re-planning: a settled conflict leaves the plan, its choice stays.
        self._orgs: list[str] = []
        self._pairs: list[tuple[str, str]] = []
        self.setTitle("Preview the merged identity")
        self.setSubTitle("One column per account and the result. Red cells must be settled "
                         "before merging; green ones show what the survivor gains. Nothing has "
                         "changed yet.")
        self.model = MergePreviewModel(self)
        self.table = _table(self.model, "mergePreview")
        self.table.verticalHeader().show()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # both ends of an address
        self.table.setAccessibleName("Merge preview")
        self.status = QLabel()
        self.status.setObjectName("fineprint")
        self.conflicts = alerts.inline_label("banner", tone="bad")
        self.org_choice = QComboBox()
        self.org_choice.setAccessibleName("Organisation of the merged identity")
        self.org_caption = QLabel("&Organisation of the merged identity")
        self.org_caption.setBuddy(self.org_choice)
        self.role_choices: list[QComboBox] = []
        self.choices = QFormLayout()
        self.choices.addRow(self.org_caption, self.org_choice)
        self.notes = QLabel()
        self.notes.setObjectName("fineprint")
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.PlainText)
        self.error = alerts.inline_label()
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        layout.addWidget(self.conflicts)
        layout.addLayout(self.choices)
        layout.addWidget(self.notes)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.org_choice.activated.connect(self._choice_made)

    def initializePage(self) -> None:
        self._orgs, self._pairs = [], []
        self._fill_choices()
        self.replan()

    def replan(self) -> None:
        wizard = self._wizard
        subjects = wizard.pick.chosen_model.subjects
        if len(subjects) < 2:
            return
        ctx, op = wizard.ctx, wizard.operator
        organisation = self.org_choice.currentData() if self._orgs else None
        keep = [str(c.currentData()) for c in self.role_choices if c.currentData()]
        self._plan_id += 1
        request = self._plan_id

        def work(_control: TaskControl) -> tuple[int, MergePlan]:
            from services.merge import plan_merge

            return request, plan_merge(ctx, op, subjects[0], subjects[1:],
                                       organisation=organisation, keep_roles=keep)

        self.error.hide()
        self.status.setText("Reading the accounts…")
        self._set_busy(True)
        wizard.runner.submit(work, owner=self, on_result=self._planned,
                             on_error=self._failed, on_done=self._done)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.org_choice.setEnabled(not busy)
        for combo in self.role_choices:
            combo.setEnabled(not busy)
        self.completeChanged.emit()

    def _done(self) -> None:
        self._set_busy(False)

    def _planned(self, planned: tuple[int, MergePlan]) -> None:
        request, plan = planned
        if request != self._plan_id:
            return
        self.plan = plan
        self.model.set_plan(plan)
        self.table.resizeRowsToContents()
        self._fit_table()
        orgs = sorted({a.org_code for a in plan.accounts})
        pairs = [c.choices for c in plan.conflicts if c.kind == "exclusive_roles"]
        new_pairs = [(p[0], p[1]) for p in pairs if (p[0], p[1]) not in self._pairs]
        if orgs != self._orgs or new_pairs:
            self._orgs = orgs if len(orgs) > 1 else []
            self._pairs += new_pairs
            self._fill_choices()
        self.status.setText(f"Planned at {plan.planned_at:%H:%M:%S} UTC from the accounts as "
                            "they are now.")
        if plan.conflicts:
            self.conflicts.setText("To settle before merging:\n"
                                   + "\n".join(f"• {c.message}" for c in plan.conflicts))
            self.conflicts.show()
        else:
            self.conflicts.hide()
        self.notes.setText("\n".join(f"• {n}" for n in plan.notes))
        self.planned.emit(plan)

    def _fit_table(self) -> None:
        """Tall enough for every row (a dozen at most), so the comparison reads at a glance."""
        table = self.table
        rows = sum(table.rowHeight(r) for r in range(self.model.rowCount()))
        height = rows + table.horizontalHeader().height() + 2 * table.frameWidth() + 2
        table.setFixedHeight(min(height, 480))  # beyond that it scrolls

    def _fill_choices(self) -> None:
        """The controls that settle conflicts: organisation, and one per exclusive pair."""
        chosen_org = self.org_choice.currentData()
        self.org_choice.clear()
        self.org_choice.addItem(CHOOSE, None)
        for code in self._orgs:
            self.org_choice.addItem(code, code)
        found = self.org_choice.findData(chosen_org)
        self.org_choice.setCurrentIndex(max(found, 0))
        self.org_caption.setVisible(bool(self._orgs))
        self.org_choice.setVisible(bool(self._orgs))
        kept = {str(c.currentData()) for c in self.role_choices if c.currentData()}
        for combo in self.role_choices:
            self.choices.removeRow(combo)
        self.role_choices = []
        for a, b in self._pairs:
            combo = QComboBox()
            combo.setAccessibleName(f"Keep {a} or {b}")
            combo.addItem(CHOOSE, None)
            combo.addItem(f"Keep {a}", a)
            combo.addItem(f"Keep {b}", b)
            combo.setCurrentIndex(1 if a in kept else 2 if b in kept else 0)
            combo.activated.connect(self._choice_made)
            self.role_choices.append(combo)
            self.choices.addRow(f"{a} or {b}", combo)

    def _choice_made(self, _index: int) -> None:
        self.replan()

    def choose_organisation(self, code: str) -> None:
        """Select an organisation and re-plan (keyboard users and tests)."""
        self.org_choice.setCurrentIndex(self.org_choice.findData(code))
        self.replan()

    def choose_role(self, role: str) -> None:
        for combo in self.role_choices:
            found = combo.findData(role)
            if found >= 0:
                combo.setCurrentIndex(found)
        self.replan()

    def _failed(self, exc: Exception) -> None:
        self.plan = None
        self.model.set_plan(None)
        self.status.setText("")
        self.conflicts.hide()
        self.notes.setText("")
        self.error.setText(str(exc))
        self.error.show()

    def isComplete(self) -> bool:
        return not self._busy and self.plan is not None and self.plan.can_apply


class ConfirmPage(QWizardPage):
    """Step 3: what will happen, in words, and an optional reason for the audit trail."""

    def __init__(self, wizard: MergeWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Confirm the merge")
        self.setSubTitle("The merge is applied in one transaction, and can be undone from the "
                         "identity's merge history while nothing has changed since.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason = QPlainTextEdit()
        self.reason.setTabChangesFocus(True)
        self.reason.setFixedHeight(70)
        self.reason.setPlaceholderText("e.g. one person's accounts, confirmed with their "
                                       "manager")
        self.reason.setAccessibleName("Reason")
        caption = QLabel("&Reason (optional, recorded in the audit trail)")
        caption.setBuddy(self.reason)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addSpacing(12)
        layout.addWidget(caption)
        layout.addWidget(self.reason)
        layout.addStretch(1)
        self.setButtonText(QWizard.WizardButton.NextButton, "&Merge")

    def initializePage(self) -> None:
        plan = self._wizard.preview.plan
        if plan is None:
            return
        absorbed = ", ".join(a.login_id for a in plan.absorbed)
        lines = [f"Merge {absorbed} into {plan.login_id}.", "",
                 f"The merged identity: {plan.login_id}, organisation {plan.organisation}, "
                 f"status: {STATUS_TEXT.get(plan.status, plan.status).lower()}.",
                 "Roles: " + (", ".join(plan.entitlements) or "none") + ".", ""]
        lines += [f"• {n}" for n in plan.notes]
        self.summary.setText("\n".join(lines))
        self.reason.setFocus()

    def reason_text(self) -> str:
        return " ".join(self.reason.toPlainText().split())


class ResultPage(QWizardPage):
    """Step 4: the merge runs; its result, or why it was refused."""

    def __init__(self, wizard: MergeWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._running = False
        self.result: MergeResult | None = None
        self.setTitle("Result")
        self.outcome = alerts.inline_label("banner", tone="good")
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.back_button = QPushButton("&Back to the preview")
        self.back_button.setToolTip("Read the accounts again and preview the merge afresh")
        self.back_button.clicked.connect(wizard.back_to_preview)
        self.undo_button = QPushButton("&Undo this merge…")
        self.undo_button.clicked.connect(self.undo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.outcome)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def initializePage(self) -> None:
        wizard = self._wizard
        plan = wizard.preview.plan
        self.result = None
        self.back_button.hide()
        self.undo_button.hide()
        self.details.setText("")
        self.outcome.setProperty("tone", "")
        self.outcome.setText("Merging…")
        self.outcome.show()
        if plan is None:
            return
        ctx, op, reason = wizard.ctx, wizard.operator, wizard.confirm.reason_text()

        def work(_control: TaskControl) -> MergeResult:
            from services.merge import merge

            return merge(ctx, op, plan, reason=reason)

        self._set_running(True)
        wizard.runner.submit(work, owner=self, on_result=self._merged, on_error=self._failed,
                             on_done=self._finished)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self._wizard.button(QWizard.WizardButton.CancelButton).setEnabled(not running)
        self.completeChanged.emit()

    def _finished(self) -> None:
        self._set_running(False)

    def _merged(self, result: MergeResult) -> None:
        self.result = result
        survivor = result.survivor
        self._tone("good")
        self.outcome.setText(f"Merged: {survivor.login_id} now carries the roles of "
                             f"{len(result.absorbed) + 1} accounts.")
        roles = ", ".join(f"{p}:{r}" for p, r in survivor.entitlements) or "none"
        status = STATUS_TEXT.get(survivor.status, survivor.status)
        lines = [f"Roles: {roles}.", f"Status: {status}.",
                 f"Merge event: {result.event_id} (undo it from the merge history, or here)."]
        if result.revoked_resets:
            lines.append(f"{result.revoked_resets} open reset link(s) revoked.")
        lines += [f"• {n}" for n in result.notes]
        self.details.setText("\n".join(lines))
        self.undo_button.show()
        self._wizard.merged.emit(survivor)

    def _failed(self, exc: Exception) -> None:
        from services.errors import Conflict

        self._tone("bad")
        if isinstance(exc, Conflict):
            self.outcome.setText(f"Nothing was merged: {exc} Go back to the preview: it reads "
                                 "the accounts again.")
        else:
            self.outcome.setText(f"Nothing was merged: {exc}")
        self.back_button.show()
        self.back_button.setFocus()

    def _tone(self, tone: str) -> None:
        self.outcome.setProperty("tone", tone)
        self.outcome.style().unpolish(self.outcome)
        self.outcome.style().polish(self.outcome)

    def undo(self) -> None:
        result = self.result
        if result is None or self._running:
            return
        if not alerts.confirm(self, f"Undo this merge? {result.survivor.login_id} and the "
                              f"{len(result.absorbed)} absorbed account(s) get back their own "
                              "roles, status and organisation.", "Undo merge"):
            return
        wizard = self._wizard
        ctx, op = wizard.ctx, wizard.operator
        survivor, event = result.survivor.subject, result.event_id

        def work(_control: TaskControl) -> UnmergeResult:
            from services.merge import unmerge

            return unmerge(ctx, op, survivor, event, reason="undone from the merge wizard")

        self._set_running(True)
        wizard.runner.submit(work, owner=self, on_result=self._undone, on_error=self._failed,
                             on_done=self._finished)

    def _undone(self, undone: UnmergeResult) -> None:
        self.result = None
        self.undo_button.hide()
        self._tone("")
        logins = ", ".join(d.login_id for d in undone.restored)
        self.outcome.setText(f"Undone: {undone.survivor.login_id} and {logins} are separate "
                             "accounts again.")
        self.details.setText("\n".join(f"• {n}" for n in undone.notes))
        self._wizard.unmerged.emit(undone.survivor)

    def isComplete(self) -> bool:
        return not self._running


class MergeWizard(QWizard):
    """Opened window-modal (``open``); ``merged`` and ``unmerged`` carry the survivor, so
    that the Users page can refresh."""

    merged = Signal(object)  # IdentityDetail
    unmerged = Signal(object)  # IdentityDetail: the merge just made was undone
    ready = Signal()  # preset accounts loaded

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner, *,
                 survivor: str | None = None, others: Sequence[str] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.operator, self.runner = ctx, operator, runner
        self.setWindowTitle("Merge accounts")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setMinimumSize(900, 640)
        fit_to_screen(self, 1000, 820)
        self.pick = PickPage(self)
        self.preview = PreviewPage(self)
        self.confirm = ConfirmPage(self)
        self.result_page = ResultPage(self)
        for page_id, page in ((PICK, self.pick), (PREVIEW, self.preview),
                              (CONFIRM, self.confirm), (RESULT, self.result_page)):
            self.setPage(page_id, page)
        keys = ([survivor] if survivor else []) + [k for k in others if k != survivor]
        if keys:
            self._load_preset(keys)

    def _load_preset(self, keys: list[str]) -> None:
        ctx, op = self.ctx, self.operator

        def work(_control: TaskControl) -> list[IdentitySummary]:
            from services.users import get_identity

            return [get_identity(ctx, op, key) for key in keys]

        self.runner.submit(work, owner=self, on_result=self._preset_arrived)

    def _preset_arrived(self, accounts: list[IdentitySummary]) -> None:
        self.pick.add_accounts(accounts)
        # A suggestion names every account: straight to the preview.
        if self.currentId() == PICK and self.pick.isComplete() and self.isVisible():
            self.next()
        self.ready.emit()

    def back_to_preview(self) -> None:
        """From a refused merge: back to the preview, planned afresh from the store."""
        while self.currentId() not in (PREVIEW, PICK, -1):
            self.back()
        if self.currentId() == PREVIEW:
            self.preview.replan()
