"""The Users page: search box, the identities table, and the detail panel of the selected one.

Opening it asks the store for one screenful (a ``LIMIT`` query, shown at once) and then for the
whole visible set as a compact index, so that searching and sorting 100,000 identities happen in
memory within a keystroke (see ``services.identity_index``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui import alerts
from ui.appearance import icon
from ui.claim_dialog import ClaimDialog
from ui.identity_detail_panel import IdentityDetailPanel
from ui.profile_editor import ProfileDialog
from ui.reason_dialog import ReasonDialog
from ui.rename_dialog import RenameDialog
from ui.task_runner import TaskControl, TaskRunner
from ui.users_model import LOGIN_ROLE, STATUS_ROLE, SUBJECT_ROLE, UsersModel, UsersProxyModel

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.identity_index import IdentityIndex
    from services.users import IdentityDetail, IdentitySummary
    from ui.merge_wizard import MergeWizard
    from ui.suggested_merges import SuggestedMergesDialog

FIRST_SCREEN_ROWS = 200
NAME_COLUMN = 1


class UsersPage(QWidget):
    first_screen_shown = Signal()
    index_loaded = Signal()
    detail_shown = Signal(object)  # IdentityDetail
    dialog_opened = Signal(object)  # the claim, profile, merge or suggestions window

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self._started = False
        self._shown_first_screen = False
        self._selected: str | None = None
        self._selected_alias: str | None = None  # a merged row's login ID
        self._detail_request = 0
        self._include_deleted = False
        self.claim_dialog: ClaimDialog | None = None
        self.profile_dialog: ProfileDialog | None = None
        self.merge_wizard: MergeWizard | None = None
        self.suggestions: SuggestedMergesDialog | None = None

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

        from services.authz import Action, allowed

        self.show_deleted = QCheckBox("Show &deleted and merged")
        self.show_deleted.setToolTip("Also list deleted identities (restorable, or whose login "
                                     "ID can be reused) and the aliases left by merges")
        self.show_deleted.toggled.connect(self._show_deleted_toggled)
        self.claim_id_button = QPushButton(icon("add"), "Reuse a login ID…")
        self.claim_id_button.setToolTip("Give a deleted identity's login ID to someone new  "
                                        "(Ctrl+Shift+U)")
        self.claim_id_button.clicked.connect(self.open_claim)
        self.merge_accounts_button = QPushButton("&Merge accounts…")
        self.merge_accounts_button.setToolTip("Combine one person's accounts into one carrying "
                                              "all their roles  (Ctrl+M)")
        self.merge_accounts_button.clicked.connect(self.open_merge)
        self.suggested_button = QPushButton("Su&ggested merges")
        self.suggested_button.setToolTip("Accounts that probably belong to one person, ranked, "
                                         "with the reasons  (Ctrl+Shift+M)")
        self.suggested_button.clicked.connect(self.open_suggestions)
        # Convenience only: the services check every one of these themselves.
        self.claim_id_button.setVisible(allowed(operator, Action.IDENTITY_CLAIM))
        self.merge_accounts_button.setVisible(allowed(operator, Action.IDENTITY_MERGE))
        self.suggested_button.setVisible(allowed(operator, Action.IDENTITY_MERGE))
        toolbar = QHBoxLayout()
        toolbar.addWidget(self.show_deleted)
        toolbar.addStretch(1)
        toolbar.addWidget(self.claim_id_button)
        toolbar.addWidget(self.merge_accounts_button)
        toolbar.addWidget(self.suggested_button)

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

        self.panel = IdentityDetailPanel(operator, profile_fields=self._profile_fields)
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
        layout.addLayout(toolbar)
        layout.addWidget(splitter, 1)

        self.search.textChanged.connect(self._search_changed)
        self.model.rows_replaced.connect(self._rows_replaced)
        selection = self.table.selectionModel()
        selection.currentRowChanged.connect(self._current_changed)
        self.panel.rename_requested.connect(self._rename)
        self.panel.disable_requested.connect(self._disable)
        self.panel.force_reset_requested.connect(self._force_reset)
        self.panel.reload_requested.connect(self._reload_detail)
        self.panel.delete_requested.connect(self._delete)
        self.panel.restore_requested.connect(self._restore)
        self.panel.claim_requested.connect(self._claim_selected)
        self.panel.edit_profile_requested.connect(self._edit_profile)
        self.panel.merge_requested.connect(self._merge_selected)
        self.panel.merge_history_requested.connect(self._merge_history)
        # Keyboard: each shortcut does what the visible button would, and nothing otherwise.
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (("Del", self._delete_shortcut),
                           ("Ctrl+Shift+R", self._restore_shortcut),
                           ("Ctrl+Shift+U", self._claim_shortcut),
                           ("Ctrl+M", self._merge_shortcut),
                           ("Ctrl+Shift+M", self._suggestions_shortcut)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(context)
            shortcut.activated.connect(slot)
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
        ctx, op, everything = self._ctx, self._operator, self._include_deleted

        def work(_control: TaskControl) -> list[IdentitySummary]:
            from services.users import list_identities

            return list_identities(ctx, op, limit=FIRST_SCREEN_ROWS, include_deleted=everything)

        self._runner.submit(work, owner=self, on_result=self._first_screen_arrived)

    def _first_screen_arrived(self, rows: list[IdentitySummary]) -> None:
        self.model.set_preview(rows)
        # Load the index once the first screen has been painted (the paint request was posted
        # first): a CPU-bound worker holds the GIL and would slow every data() call of that
        # paint.
        QTimer.singleShot(0, self, self._load_index)

    def _load_index(self) -> None:
        ctx, op, everything = self._ctx, self._operator, self._include_deleted

        def work(control: TaskControl) -> IdentityIndex:
            from services.identity_index import load_identity_index

            return load_identity_index(ctx, op, include_deleted=everything,
                                       progress=control.progress)

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
        # A merged alias resolves to the identity it was merged into: say so over its detail.
        merged = current.data(STATUS_ROLE) == "merged"
        self._selected_alias = str(current.data(LOGIN_ROLE)) if merged else None
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
        alias = self._selected_alias if detail.subject != self._selected else None
        self.panel.show_detail(detail, alias=alias)
        self.detail_shown.emit(detail)

    def _show_deleted_toggled(self, checked: bool) -> None:
        self._include_deleted = checked
        self._started = True
        self._load_index()

    def _profile_fields(self, detail: IdentityDetail) -> frozenset[str]:
        from services.profile import editable_fields

        return editable_fields(self._ctx, self._operator, detail)

    # ---- changes -------------------------------------------------------------------------

    def _changed(self, detail: IdentityDetail) -> None:
        self._show_detail(detail)
        self.model.refresh_identity(detail)

    def _panel_idle(self) -> None:
        self.panel.set_busy(False)

    def _visibility_changed(self, detail: IdentityDetail) -> None:
        """A change that moves the identity in or out of the list (delete, restore)."""
        self._show_detail(detail)
        if self._include_deleted:
            self.model.refresh_identity(detail)
        else:
            self._load_index()

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

    # ---- delete, restore, reuse ----------------------------------------------------------

    def _delete(self) -> None:
        detail = self.panel.detail
        if detail is None:
            return
        days = self._ctx.identity_policy.reuse_cooling_off.days
        reason = ReasonDialog.ask(
            "Delete identity",
            f"Delete {detail.login_id} ({detail.given_name} {detail.family_name})? They can no "
            f"longer sign in, and open reset or e-mail codes stop working. For {days} days the "
            "identity can be restored intact and its login ID is kept from anyone else; after "
            "that the login ID may be given to someone new.", "Delete", danger=True,
            parent=self)
        if reason is None:
            return
        ctx, op = self._ctx, self._operator
        subject, version = detail.subject, detail.version

        def work(_control: TaskControl) -> IdentityDetail:
            from services.identity_lifecycle import delete_identity

            return delete_identity(ctx, op, subject, reason=reason, expected_version=version)

        self.panel.set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._visibility_changed,
                            on_done=self._panel_idle)

    def _restore(self) -> None:
        detail = self.panel.detail
        if detail is None or detail.status != "deleted":
            return
        if not alerts.confirm(self, f"Restore {detail.login_id}? The identity comes back as it "
                              "was before it was deleted: its roles, password and MFA "
                              "enrolment. The change is recorded in the audit trail.",
                              "Restore"):
            return
        ctx, op, subject = self._ctx, self._operator, detail.subject

        def work(_control: TaskControl) -> IdentityDetail:
            from services.identity_lifecycle import restore_identity

            return restore_identity(ctx, op, subject,
                                    reason="restored in the desktop application")

        self.panel.set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._visibility_changed,
                            on_done=self._panel_idle)

    def _claim_selected(self) -> None:
        detail = self.panel.detail
        if detail is not None and detail.status == "deleted":
            self.open_claim(detail.login_id, detail.org_code)

    def open_claim(self, email: str = "", org_code: str | None = None) -> ClaimDialog:
        """The reuse-a-login-ID dialog (window-modal; one at a time)."""
        if self.claim_dialog is not None:
            self.claim_dialog.raise_()
            return self.claim_dialog
        dialog = ClaimDialog(self._ctx, self._operator, self._runner,
                             email if isinstance(email, str) else "", org_code, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.claimed.connect(self._claimed)
        dialog.destroyed.connect(self._claim_dialog_gone)
        self.claim_dialog = dialog
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def _claim_dialog_gone(self) -> None:
        self.claim_dialog = None

    def _claimed(self, detail: IdentityDetail) -> None:
        self._selected, self._selected_alias = detail.subject, None
        self._show_detail(detail)
        self._load_index()  # a new row: _rows_replaced selects it once the index is in
        alerts.show_info(self, f"{detail.login_id} now belongs to a new identity "
                         f"({detail.given_name} {detail.family_name}), subject "
                         f"{detail.subject}. It must set a password: send it a reset from "
                         "this page.")

    # ---- profile -------------------------------------------------------------------------

    def _edit_profile(self) -> None:
        detail = self.panel.detail
        if detail is None:
            return
        if self.profile_dialog is not None:
            self.profile_dialog.raise_()
            return
        dialog = ProfileDialog(self._ctx, self._operator, self._runner, detail, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.editor.saved.connect(self._changed)
        dialog.destroyed.connect(self._profile_dialog_gone)
        self.profile_dialog = dialog
        dialog.open()
        self.dialog_opened.emit(dialog)

    def _profile_dialog_gone(self) -> None:
        self.profile_dialog = None

    # ---- merging -------------------------------------------------------------------------

    def _merge_selected(self) -> None:
        detail = self.panel.detail
        if detail is not None:
            self.open_merge(survivor=detail.subject)

    def open_merge(self, survivor: str | None = None,
                   others: tuple[str, ...] = ()) -> MergeWizard:
        """The merge wizard, empty or started from an identity or a suggestion."""
        from ui.merge_wizard import MergeWizard

        if self.merge_wizard is not None:
            self.merge_wizard.raise_()
            return self.merge_wizard
        wizard = MergeWizard(self._ctx, self._operator, self._runner,
                             survivor=survivor if isinstance(survivor, str) else None,
                             others=others, parent=self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.merged.connect(self._merged)
        wizard.unmerged.connect(self._unmerged)
        wizard.destroyed.connect(self._merge_wizard_gone)
        self.merge_wizard = wizard
        wizard.open()
        self.dialog_opened.emit(wizard)
        return wizard

    def _merge_wizard_gone(self) -> None:
        self.merge_wizard = None

    def _merged(self, survivor: IdentityDetail) -> None:
        self._selected, self._selected_alias = survivor.subject, None
        self._show_detail(survivor)
        self._load_index()  # the absorbed accounts leave the list (or show as aliases)
        if self.suggestions is not None:
            self.suggestions.merged(survivor)

    def _merge_history(self) -> None:
        from ui.merge_history_dialog import MergeHistoryDialog

        detail = self.panel.detail
        if detail is None:
            return
        dialog = MergeHistoryDialog(self._ctx, self._operator, self._runner, detail, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.unmerged.connect(self._unmerged)
        dialog.open()
        self.dialog_opened.emit(dialog)

    def _unmerged(self, survivor: IdentityDetail) -> None:
        self._show_detail(survivor)
        self._load_index()

    def open_suggestions(self) -> SuggestedMergesDialog:
        from ui.suggested_merges import SuggestedMergesDialog

        if self.suggestions is not None:
            self.suggestions.raise_()
            return self.suggestions
        dialog = SuggestedMergesDialog(self._ctx, self._operator, self._runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.review_requested.connect(self._review_suggestion)
        dialog.destroyed.connect(self._suggestions_gone)
        self.suggestions = dialog
        dialog.show()  # not modal: the admin works through the list beside the table
        self.dialog_opened.emit(dialog)
        return dialog

    def _suggestions_gone(self) -> None:
        self.suggestions = None

    def _review_suggestion(self, keys: tuple[str, ...]) -> None:
        if keys:
            self.open_merge(survivor=keys[0], others=tuple(keys[1:]))

    # ---- shortcuts -----------------------------------------------------------------------

    def _press(self, button: QPushButton) -> None:
        if button.isVisibleTo(self) and button.isEnabled():
            button.click()

    def _delete_shortcut(self) -> None:
        if self.search.hasFocus():
            return  # Del edits the search text there
        self._press(self.panel.delete_button)

    def _restore_shortcut(self) -> None:
        self._press(self.panel.restore_button)

    def _claim_shortcut(self) -> None:
        if self.panel.claim_button.isVisibleTo(self):
            self._press(self.panel.claim_button)
        else:
            self._press(self.claim_id_button)

    def _merge_shortcut(self) -> None:
        self._press(self.merge_accounts_button)

    def _suggestions_shortcut(self) -> None:
        self._press(self.suggested_button)
