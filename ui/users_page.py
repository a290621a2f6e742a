"""The Users page: search box, the identities table, and the detail panel of the selected one.

Opening it asks the store for one screenful (a ``LIMIT`` query, shown at once) and then for the
whole visible set as a compact index, so that searching and sorting 100,000 identities happen in
memory within a keystroke (see ``services.identity_index``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui import alerts
from ui.identity_detail_panel import IdentityDetailPanel
from ui.reason_dialog import ReasonDialog
from ui.rename_dialog import RenameDialog
from ui.task_runner import TaskControl, TaskRunner
from ui.users_model import SUBJECT_ROLE, UsersModel, UsersProxyModel

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.identity_index import IdentityIndex
    from services.users import IdentityDetail, IdentitySummary

FIRST_SCREEN_ROWS = 200
NAME_COLUMN = 1


class UsersPage(QWidget):
    first_screen_shown = Signal()
    index_loaded = Signal()
    detail_shown = Signal(object)  # IdentityDetail

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self._started = False
        self._shown_first_screen = False
        self._selected: str | None = None
        self._detail_request = 0

        title = QLabel("Users")
        title.setObjectName("pageTitle")
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search login ID, name or organisation  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search identities")
        self.count = QLabel()
        self.count.setObjectName("fineprint")
        header_row = QHBoxLayout()
        header_row.addWidget(title)
        header_row.addStretch(1)
        header_row.addWidget(self.count)

        self.model = UsersModel(self)
        self.proxy = UsersProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("usersTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        vertical = self.table.verticalHeader()
        vertical.hide()
        # Fixed row heights: nothing measures 100,000 rows.
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(26)
        horizontal = self.table.horizontalHeader()
        horizontal.setStretchLastSection(True)
        horizontal.setHighlightSections(False)
        horizontal.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft
                                       | Qt.AlignmentFlag.AlignVCenter)
        for column, width in enumerate((200, 150, 170, 120)):
            self.table.setColumnWidth(column, width)
        horizontal.setSortIndicator(NAME_COLUMN, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)

        self.panel = IdentityDetailPanel(operator)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        self.panel.setMinimumWidth(320)
        splitter.setSizes([940, 320])
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(header_row)
        layout.addWidget(self.search)
        layout.addWidget(splitter, 1)

        self.search.textChanged.connect(self._search_changed)
        self.model.rows_replaced.connect(self._rows_replaced)
        selection = self.table.selectionModel()
        selection.currentRowChanged.connect(self._current_changed)
        self.panel.rename_requested.connect(self._rename)
        self.panel.disable_requested.connect(self._disable)
        self.panel.force_reset_requested.connect(self._force_reset)
        self.panel.reload_requested.connect(self._reload_detail)
        self.setFocusProxy(self.search)
        self._update_count()

    # ---- loading -------------------------------------------------------------------------

    def activate(self) -> None:
        """Called when the page is shown; the first time, load the identities."""
        if not self._started:
            self._started = True
            self._load_first_screen()

    def reload(self) -> None:
        self._started = True
        self._load_index()

    def _load_first_screen(self) -> None:
        ctx, op = self._ctx, self._operator

        def work(_control: TaskControl) -> list[IdentitySummary]:
            from services.users import list_identities

            return list_identities(ctx, op, limit=FIRST_SCREEN_ROWS)

        self._runner.submit(work, owner=self, on_result=self._first_screen_arrived)

    def _first_screen_arrived(self, rows: list[IdentitySummary]) -> None:
        self.model.set_preview(rows)
        # Load the index once the first screen has been painted (the paint request was posted
        # first): a CPU-bound worker holds the GIL and would slow every data() call of that
        # paint.
        QTimer.singleShot(0, self, self._load_index)

    def _load_index(self) -> None:
        ctx, op = self._ctx, self._operator

        def work(control: TaskControl) -> IdentityIndex:
            from services.identity_index import load_identity_index

            return load_identity_index(ctx, op, progress=control.progress)

        self._runner.submit(work, owner=self, on_result=self._index_arrived)

    def _index_arrived(self, index: IdentityIndex) -> None:
        self.model.set_index(index)
        self.index_loaded.emit()

    # ---- searching and selection ---------------------------------------------------------

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _search_changed(self, text: str) -> None:
        self.model.set_search(text)
        self._update_count()

    def _update_count(self) -> None:
        model = self.model
        if not model.loaded:
            shown = model.rowCount()
            self.count.setText(f"Loading identities… showing the first {shown:,}"
                               if shown else "Loading identities…")
        elif model.search_text.strip():
            self.count.setText(f"{model.rowCount():,} of {model.total:,} identities match")
        else:
            self.count.setText(f"{model.total:,} identities")

    def _rows_replaced(self) -> None:
        self._update_count()
        if not self._shown_first_screen and self.model.rowCount() > 0:
            self._shown_first_screen = True
            self.first_screen_shown.emit()
        # A reset clears the selection: put it back on the same identity if still shown.
        if self._selected is None:
            return
        row = self.model.row_of(self._selected)
        if row is None:
            return
        proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().setCurrentIndex(
            proxy_index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(proxy_index)

    def select_subject(self, subject: str) -> bool:
        """Select an identity by subject id (keyboard users and tests); False if not shown."""
        row = self.model.row_of(subject)
        if row is None:
            return False
        proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().setCurrentIndex(
            proxy_index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(proxy_index)
        return True

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        subject = current.data(SUBJECT_ROLE) if current.isValid() else None
        if not isinstance(subject, str) or subject == self._selected:
            return
        self._selected = subject
        self._fetch_detail(subject)

    def _reload_detail(self) -> None:
        if self._selected is not None:
            self._fetch_detail(self._selected)

    def _fetch_detail(self, subject: str) -> None:
        ctx, op = self._ctx, self._operator
        self._detail_request += 1
        request = self._detail_request
        self.panel.show_loading()

        def work(_control: TaskControl) -> IdentityDetail:
            from services.users import get_identity

            return get_identity(ctx, op, subject)

        def arrived(detail: IdentityDetail) -> None:
            if request == self._detail_request:  # the person may have moved on meanwhile
                self._show_detail(detail)

        self._runner.submit(work, owner=self, on_result=arrived,
                            on_done=lambda: self.panel.set_busy(False))

    def _show_detail(self, detail: IdentityDetail) -> None:
        self.panel.show_detail(detail)
        self.detail_shown.emit(detail)

    # ---- changes -------------------------------------------------------------------------

    def _changed(self, detail: IdentityDetail) -> None:
        self._show_detail(detail)
        self.model.refresh_identity(detail)

    def _rename(self) -> None:
        detail = self.panel.detail
        if detail is None:
            return
        names = RenameDialog.ask(detail.login_id, detail.given_name, detail.family_name, self)
        if names is None:
            return
        ctx, op = self._ctx, self._operator
        subject, version = detail.subject, detail.version  # the version read: stale is refused

        def work(_control: TaskControl) -> IdentityDetail:
            from services.users import rename_identity

            return rename_identity(ctx, op, subject, version, *names)

        self.panel.set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._changed,
                            on_done=lambda: self.panel.set_busy(False))

    def _disable(self) -> None:
        detail = self.panel.detail
        if detail is None:
            return
        if not alerts.confirm(self, f"Disable {detail.login_id}? They will no longer be able to "
                              "sign in. The change is recorded in the audit trail.", "Disable"):
            return
        ctx, op = self._ctx, self._operator
        subject, version = detail.subject, detail.version

        def work(_control: TaskControl) -> IdentityDetail:
            from services.users import disable_identity

            return disable_identity(ctx, op, subject, expected_version=version,
                                    reason="disabled in the desktop application")

        self.panel.set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._changed,
                            on_done=lambda: self.panel.set_busy(False))

    def _force_reset(self) -> None:
        detail = self.panel.detail
        if detail is None:
            return
        reason = ReasonDialog.ask(
            "Force password reset",
            f"Make {detail.login_id} choose a new password. Their current password stops "
            "working now, and a reset code is e-mailed to their stored address; you never see "
            "or choose the new password.", "Force reset", danger=True, parent=self)
        if reason is None:
            return
        ctx, op, subject = self._ctx, self._operator, detail.subject

        def work(_control: TaskControl) -> IdentityDetail:
            from services.reset import force_reset
            from services.users import get_identity

            force_reset(ctx, op, subject, reason=reason)
            return get_identity(ctx, op, subject)

        def done(changed: IdentityDetail) -> None:
            self._changed(changed)
            alerts.show_info(self, f"{changed.login_id} must now choose a new password. A reset "
                             f"code was e-mailed to {changed.email}; it is valid for a limited "
                             "time, and they can ask for a new one from the sign-in window.")

        self.panel.set_busy(True)
        self._runner.submit(work, owner=self, on_result=done,
                            on_done=lambda: self.panel.set_busy(False))
