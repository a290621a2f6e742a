"""The Organisations page: the list, and for platform admins a way to add one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.add_org_dialog import AddOrgDialog
from ui.appearance import icon
from ui.orgs_model import OrgsModel
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.orgs import Organisation


class OrgsPage(QWidget):
    loaded = Signal()

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        from services.authz import Action, allowed

        super().__init__(parent)
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self._started = False
        title = QLabel("Organisations")
        title.setObjectName("pageTitle")
        self.count = QLabel()
        self.count.setObjectName("fineprint")
        self.add_button = QPushButton(icon("add"), "Add organisation…")
        self.add_button.setVisible(allowed(operator, Action.ORG_CREATE))
        self.add_button.clicked.connect(self._add)
        self.reload_button = QPushButton("Reload")
        self.reload_button.clicked.connect(self.reload)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.count)
        header.addWidget(self.add_button)
        header.addWidget(self.reload_button)

        self.model = OrgsModel(self)
        proxy = QSortFilterProxyModel(self)  # a few hundred rows: Qt's own sort is fine here
        proxy.setSourceModel(self.model)
        proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 110)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.table, 1)
        self.setFocusProxy(self.table)

    def activate(self) -> None:
        if not self._started:
            self.reload()

    def reload(self) -> None:
        self._started = True
        ctx, op = self._ctx, self._operator

        def work(_control: TaskControl) -> list[Organisation]:
            from services.orgs import list_orgs

            return list_orgs(ctx, op)

        self.reload_button.setEnabled(False)
        self._runner.submit(work, owner=self, on_result=self._arrived,
                            on_done=lambda: self.reload_button.setEnabled(True))

    def _arrived(self, orgs: list[Organisation]) -> None:
        self.model.set_records(orgs)
        self.count.setText(f"{len(orgs):,} organisations")
        self.loaded.emit()

    def _add(self) -> None:
        values = AddOrgDialog.ask(self)
        if values is None:
            return
        ctx, op = self._ctx, self._operator

        def work(_control: TaskControl) -> Organisation:
            from services.orgs import add_org

            return add_org(ctx, op, *values)

        self._runner.submit(work, owner=self, on_result=lambda _org: self.reload())
