"""The Audit page: recent events and a check of the HMAC chain (admins and reviewers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.alerts import inline_label
from ui.appearance import icon
from ui.audit_model import AuditModel, change_text
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.audit import VerifyResult
    from services.audit_trail import AuditEntry
    from services.authz import Operator
    from services.context import Context

RECENT = 1000


class AuditPage(QWidget):
    loaded = Signal()
    verified = Signal(object)  # VerifyResult

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self._started = False
        title = QLabel("Audit trail")
        title.setObjectName("pageTitle")
        self.count = QLabel()
        self.count.setObjectName("fineprint")
        self.verify_button = QPushButton(icon("verify"), "Verify the chain")
        self.verify_button.setToolTip("Check that no event was altered, removed or reordered")
        self.verify_button.clicked.connect(self.verify)
        self.reload_button = QPushButton("Reload")
        self.reload_button.clicked.connect(self.reload)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.count)
        header.addWidget(self.verify_button)
        header.addWidget(self.reload_button)
        self.result = inline_label("banner")

        self.model = AuditModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((60, 170, 210, 150, 300, 80)):
            self.table.setColumnWidth(column, width)
        self.change = QLabel()
        self.change.setObjectName("fineprint")
        self.change.setWordWrap(True)
        self.change.setTextFormat(Qt.TextFormat.PlainText)
        self.change.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.result)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.change)
        self.setFocusProxy(self.table)

    def activate(self) -> None:
        if not self._started:
            self.reload()

    def reload(self) -> None:
        self._started = True
        ctx, op = self._ctx, self._operator

        def work(_control: TaskControl) -> list[AuditEntry]:
            from services.audit_trail import recent_events

            return recent_events(ctx, op, limit=RECENT)

        self.reload_button.setEnabled(False)
        self._runner.submit(work, owner=self, on_result=self._arrived,
                            on_done=lambda: self.reload_button.setEnabled(True))

    def _arrived(self, events: list[AuditEntry]) -> None:
        self.model.set_records(events)
        self.count.setText(f"latest {len(events):,} events" if len(events) >= RECENT
                           else f"{len(events):,} events")
        self.loaded.emit()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        entry = self.model.record_at(current.row()) if current.isValid() else None
        self.change.setText(change_text(entry) if entry else "")

    def verify(self) -> None:
        ctx, op = self._ctx, self._operator

        def work(_control: TaskControl) -> VerifyResult:
            from services.audit_trail import verify_trail

            return verify_trail(ctx, op)

        self.verify_button.setEnabled(False)
        self.result.setText("Verifying the audit trail…")
        self.result.setProperty("tone", "")
        self._restyle()
        self.result.show()
        self._runner.submit(work, owner=self, on_result=self._verified,
                            on_done=lambda: self.verify_button.setEnabled(True))

    def _verified(self, result: VerifyResult) -> None:
        if result.ok:
            self.result.setText(f"The audit trail is intact: {result.count:,} events verified.")
        else:
            self.result.setText(
                f"The audit trail is NOT intact at event {result.first_bad_seq}: "
                f"{result.reason}. Export the trail and the latest checkpoint as evidence, "
                "and tell the security team.")
        self.result.setProperty("tone", "good" if result.ok else "bad")
        self._restyle()
        self.verified.emit(result)

    def _restyle(self) -> None:
        # A dynamic property changed: the stylesheet must be re-applied to see it.
        self.result.style().unpolish(self.result)
        self.result.style().polish(self.result)
