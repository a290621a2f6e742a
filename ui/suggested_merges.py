"""Suggested merges: accounts that probably belong to one person, ranked, with the reasons.

The detector is the service's (``services.merge.suggest_for_store``: same login ID after
normalisation, numeric-suffix variants, the same or a near-identical name in one
organisation). Nothing merges from here: "Review" opens the merge wizard on a suggestion and
the admin decides there (programme decision 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui import alerts
from ui.record_table_model import RecordTableModel
from ui.task_runner import TaskControl, TaskHandle, TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.merge import StoreSuggestion
    from services.users import IdentityDetail

KIND_TEXT = {"same_login_id": "Same login ID", "login_suffix": "Numbered login ID",
             "same_name": "Same name", "similar_name": "Similar name"}


class SuggestionsModel(RecordTableModel["StoreSuggestion"]):
    COLUMNS = ("Score", "Accounts", "Organisation", "Why")

    def cells(self, record: StoreSuggestion) -> tuple[str, ...]:
        suggestion = record.suggestion
        orgs = sorted({a.org_code for a in record.accounts})
        return (f"{suggestion.score:.0%}",
                "  +  ".join(a.login_id for a in record.accounts),
                ", ".join(orgs),
                f"{KIND_TEXT.get(suggestion.kind, suggestion.kind)}: "
                + " ".join(suggestion.reasons))

    def cell_role(self, record: StoreSuggestion, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            names = "\n".join(f"{a.login_id} — {a.given_name} {a.family_name} ({a.org_code}, "
                              f"{a.status})" for a in record.accounts)
            return names + "\n\n" + "\n".join(record.suggestion.reasons)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def remove_with(self, subjects: set[str]) -> None:
        """Drop the suggestions touching accounts that were just merged."""
        self.set_records([r for r in self._records
                          if not subjects & set(r.suggestion.keys)])


class SuggestedMergesDialog(QDialog):
    """A window beside the Users page; ``review_requested`` carries a suggestion's subject ids,
    the survivor first."""

    review_requested = Signal(tuple)
    loaded = Signal()

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self._task: TaskHandle | None = None
        self.setWindowTitle("Suggested merges")
        self.resize(920, 520)
        title = QLabel("Suggested merges")
        title.setObjectName("dialogHeading")
        intro = QLabel("Accounts that probably belong to one person, surest first. Nothing is "
                       "merged from this list: Review opens the merge wizard, where you see the "
                       "result before deciding.")
        intro.setWordWrap(True)
        intro.setObjectName("fineprint")
        self.model = SuggestionsModel(self)
        self.table = QTableView()
        self.table.setObjectName("suggestionsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(1, 380)
        self.table.setColumnWidth(2, 110)
        self.table.setAccessibleName("Suggested merges")
        self.status = QLabel()
        self.status.setObjectName("fineprint")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(200)
        self.progress.hide()
        self.refresh_button = QPushButton("&Find again")
        self.refresh_button.clicked.connect(self.refresh)
        self.cancel_button = QPushButton("&Stop")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.review_button = QPushButton("&Review…")
        self.review_button.setDefault(True)
        self.review_button.setToolTip("Open the merge wizard on this suggestion (Enter)")
        self.review_button.clicked.connect(self.review)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        self.table.activated.connect(self._activated)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.review_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(status_row)
        layout.addLayout(buttons)
        self._update_buttons()
        self.refresh()

    def refresh(self) -> None:
        if self._task is not None:
            return
        ctx, op = self._ctx, self._operator

        def work(control: TaskControl) -> list[StoreSuggestion]:
            from services.merge import suggest_for_store

            return suggest_for_store(ctx, op, progress=control.progress,
                                     cancelled=lambda: control.cancelled)

        self.status.setText("Looking for accounts that belong to one person…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.refresh_button.setEnabled(False)
        self._task = self._runner.submit(work, owner=self, on_result=self._arrived,
                                         on_progress=self._progressed,
                                         on_cancelled=self._cancelled, on_done=self._done)

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _cancelled(self) -> None:
        self.status.setText("Stopped. Find again to look for suggestions.")

    def _done(self) -> None:
        self._task = None
        self.progress.hide()
        self.cancel_button.hide()
        self.refresh_button.setEnabled(True)
        self._update_buttons()

    def _arrived(self, suggestions: list[StoreSuggestion]) -> None:
        self.model.set_records(suggestions)
        count = len(suggestions)
        self.status.setText(f"{count} suggested merge{'s' if count != 1 else ''}."
                            if count else "No suggested merges: no accounts look like one "
                            "person's.")
        if count:
            self.table.selectRow(0)
            self.table.setFocus()
        self.loaded.emit()

    def _update_buttons(self) -> None:
        self.review_button.setEnabled(self.table.selectionModel().hasSelection())

    def selected(self) -> StoreSuggestion | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.record_at(rows[0].row()) if rows else None

    def review(self) -> None:
        chosen = self.selected()
        if chosen is None:
            alerts.show_info(self, "Select a suggestion first.")
            return
        self.review_requested.emit(tuple(chosen.suggestion.keys))

    def _activated(self, _index: QModelIndex) -> None:
        self.review()

    def merged(self, survivor: IdentityDetail) -> None:
        """A merge was made: drop the suggestions it settled, and say so."""
        before = self.model.rowCount()
        chosen = self.selected()
        keys = set(chosen.suggestion.keys) if chosen is not None else {survivor.subject}
        self.model.remove_with(keys | {survivor.subject})
        if self.model.rowCount() != before:
            self.status.setText(f"Merged into {survivor.login_id}; {self.model.rowCount()} "
                                "suggestion(s) left.")
        self._update_buttons()
