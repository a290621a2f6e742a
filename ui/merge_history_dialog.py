"""The merges into an identity, and undoing one (``services.merge.unmerge``).

An unmerge gives every account back its own status, organisation and roles; the service
refuses, with its reasons, when something changed since that it could not undo exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui import alerts
from ui.record_table_model import RecordTableModel
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.merge import UnmergeResult
    from services.users import IdentityDetail

Entry = dict[str, Any]  # one item of services.merge.merge_history


def _when(text: str | None) -> str:
    return text[:16].replace("T", " ") if text else ""


class MergeHistoryModel(RecordTableModel[Entry]):
    COLUMNS = ("Merged (UTC)", "By", "Accounts absorbed", "Undone")

    def cells(self, record: Entry) -> tuple[str, ...]:
        undone = (f"{_when(record['unmerged_at'])} by {record['unmerged_by']}"
                  if record.get("unmerged_at") else "")
        return (_when(record["merged_at"]), str(record["merged_by"]),
                ", ".join(record["absorbed"]), undone)

    def cell_role(self, record: Entry, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and column == 2:
            return "\n".join(record["absorbed"])
        return None


class MergeHistoryDialog(QDialog):
    unmerged = Signal(object)  # IdentityDetail (the survivor, as it is after the unmerge)
    loaded = Signal()

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 detail: IdentityDetail, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self._detail = detail
        self._busy = False
        self.setWindowTitle(f"Merge history of {detail.login_id}")
        self.resize(900, 380)
        intro = QLabel(f"The accounts merged into {detail.login_id}, newest first. Undoing a "
                       "merge gives each account back its own roles, status and organisation.")
        intro.setWordWrap(True)
        self.model = MergeHistoryModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(True)  # every absorbed address, not the first and "…"
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for column in (0, 1, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Merges")
        self.message = alerts.inline_label()
        self.empty = QLabel("No accounts were merged into this identity.")
        self.empty.setObjectName("fineprint")
        self.empty.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.undo_button = buttons.addButton("&Undo merge…",
                                             QDialogButtonBox.ButtonRole.ActionRole)
        self.undo_button.setObjectName("dangerButton")
        self.undo_button.setAutoDefault(False)  # never the answer to Enter
        self.undo_button.clicked.connect(self.undo)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self._update_buttons()
        self.reload()

    def reload(self) -> None:
        ctx, op, subject = self._ctx, self._operator, self._detail.subject

        def work(_control: TaskControl) -> list[Entry]:
            from services.merge import merge_history

            return merge_history(ctx, op, subject)

        self._runner.submit(work, owner=self, on_result=self._arrived)

    def _arrived(self, entries: list[Entry]) -> None:
        self.model.set_records(entries)
        self.table.resizeRowsToContents()
        self.empty.setVisible(not entries)
        if entries:
            self.table.selectRow(0)
        self._update_buttons()
        self.loaded.emit()

    def selected(self) -> Entry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.record_at(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        entry = self.selected()
        self.undo_button.setEnabled(not self._busy and entry is not None
                                    and not entry.get("unmerged_at"))

    def undo(self) -> None:
        entry = self.selected()
        if entry is None or entry.get("unmerged_at") or self._busy:
            return
        absorbed = ", ".join(entry["absorbed"])
        if not alerts.confirm(self, f"Undo the merge of {absorbed} into "
                              f"{self._detail.login_id}? Each account gets back its own roles, "
                              "status and organisation.", "Undo merge"):
            return
        ctx, op = self._ctx, self._operator
        subject, event = self._detail.subject, str(entry["event_id"])

        def work(_control: TaskControl) -> UnmergeResult:
            from services.merge import unmerge

            return unmerge(ctx, op, subject, event, reason="undone from the merge history")

        self.message.hide()
        self._busy = True
        self._update_buttons()
        self._runner.submit(work, owner=self, on_result=self._undone, on_error=self._failed,
                            on_done=self._done)

    def _done(self) -> None:
        self._busy = False
        self._update_buttons()

    def _undone(self, result: UnmergeResult) -> None:
        self.unmerged.emit(result.survivor)
        self.reload()

    def _failed(self, exc: Exception) -> None:
        self.message.setText(str(exc))
        self.message.show()
