"""The main window: a navigation list of the pages the signed-in role may use, and the pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.account_page import ROLE_TEXT, AccountPage
from ui.appearance import fit_to_screen, icon, plain_scroll
from ui.audit_page import AuditPage
from ui.intake_page import IntakePage
from ui.orgs_page import OrgsPage
from ui.passwords_page import PasswordsPage
from ui.task_runner import TaskRunner
from ui.users_page import UsersPage

if TYPE_CHECKING:
    from services.auth import Session
    from services.authz import Operator
    from services.context import Context

# (key, title, icon) in navigation order.
PAGES = (
    ("users", "Users", "users"),
    ("orgs", "Organisations", "organisations"),
    ("migration", "Migration", "migration"),
    ("passwords", "Passwords", "passwords"),
    ("intake", "Reset requests", "intake"),
    ("mfa", "MFA", "mfa"),
    ("compliance", "Compliance", "compliance"),
    ("audit", "Audit", "audit"),
    ("account", "My account", "account"),
)


def visible_pages(op: Operator) -> list[str]:
    """The pages a role may use. Convenience only: every service checks permission itself."""
    from services.authz import Action, Role, allowed

    keys = []
    if op.roles & {Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER, Role.LSO}:
        keys.append("users")  # an LSO sees their own organisation: the service scopes it
    if op.roles & {Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER}:
        keys.append("orgs")
    if allowed(op, Action.MIGRATION_READ):
        keys.append("migration")  # admins run it; reviewers read runs and tracking
    keys.append("passwords")  # the policy and the tester are for everyone who signs in
    if allowed(op, Action.INTAKE_REVIEW):
        keys.append("intake")
    # Admins and reviewers see every organisation, an LSO their own (issue 6).
    if allowed(op, Action.MFA_READ) or allowed(op, Action.MFA_READ, org_id=op.organisation_id):
        keys.append("mfa")
    if op.roles & {Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER}:
        keys.append("compliance")
    if allowed(op, Action.AUDIT_READ):
        keys.append("audit")
    keys.append("account")
    return keys


def role_text(op: Operator) -> str:
    from services.authz import Role

    order = (Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER, Role.LSO, Role.USER)
    return ", ".join(ROLE_TEXT[role.value] for role in order if role in op.roles
                     and (role is not Role.USER or len(op.roles) == 1))


class MainWindow(QMainWindow):
    # The person set up two-step verification here: the session is now VERIFIED, and the
    # pages built for the unverified one should be rebuilt (``ui.app`` opens a new window).
    session_changed = Signal(object)  # Session

    def __init__(self, ctx: Context, session: Session, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._session, self._runner = ctx, session, runner
        op = session.operator
        self.setWindowTitle("Gatehouse")
        self.setWindowIcon(icon("gatehouse"))
        self.setMinimumSize(720, 480)  # smaller than that, the pages scroll (see _scrolling)
        fit_to_screen(self, 1280, 780)

        self.nav = QListWidget()
        self.nav.setObjectName("navList")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFixedWidth(200)
        self.nav.setAccessibleName("Pages")
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        self._frames: dict[str, QScrollArea] = {}
        self.keys = visible_pages(op)
        titles = {key: (title, icon_name) for key, title, icon_name in PAGES}
        for number, key in enumerate(self.keys, start=1):
            page = self._make_page(key)
            self.pages[key] = page
            self._frames[key] = _scrolling(page)
            self.stack.addWidget(self._frames[key])
            title, icon_name = titles[key]
            item = QListWidgetItem(icon(icon_name), title)
            item.setToolTip(f"{title}  (Ctrl+{number})")
            self.nav.addItem(item)
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda row=number - 1: self.nav.setCurrentRow(row))
        QShortcut(QKeySequence.StandardKey.Find, self).activated.connect(self.focus_search)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        content = QWidget()
        content.setObjectName("content")
        content_layout = QVBoxLayout(content)
        self.mfa_banner = self._mfa_banner()
        if self.mfa_banner is not None:
            content_layout.addWidget(self.mfa_banner)
        content_layout.addWidget(self.stack)
        layout.addWidget(content, 1)
        self.setCentralWidget(central)

        who = QLabel(f"Signed in as {op.login_id} ({role_text(op)})")
        self.busy = QLabel("Working…")
        self.busy.setObjectName("fineprint")
        self.busy.hide()
        store = QLabel(f"Store: {ctx.store.display_url}")
        store.setObjectName("fineprint")
        self.statusBar().addWidget(who)
        self.statusBar().addPermanentWidget(self.busy)
        self.statusBar().addPermanentWidget(store)
        runner.busy_changed.connect(self.busy.setVisible)

        self.nav.currentRowChanged.connect(self._page_changed)
        self.nav.setCurrentRow(0)
        self.nav.setFocus()

    def _mfa_banner(self) -> QWidget | None:
        """While two-step verification is due (ENROL_SOON): say so, and offer the wizard."""
        from services.auth import MfaStep
        from ui.mfa_banner import MfaBanner

        if self._session.mfa is not MfaStep.ENROL_SOON:
            return None
        banner = MfaBanner(self._ctx, self._session, self._runner)
        banner.enrolled.connect(self.session_changed)
        return banner

    def _make_page(self, key: str) -> QWidget:
        ctx, op, runner = self._ctx, self._session.operator, self._runner
        if key == "users":
            return UsersPage(ctx, op, runner)
        if key == "orgs":
            return OrgsPage(ctx, op, runner)
        if key == "migration":
            from ui.migration_page import MigrationPage

            return MigrationPage(ctx, op, runner)
        if key == "passwords":
            return PasswordsPage(self._session, runner)
        if key == "intake":
            return IntakePage(ctx, op, runner)
        if key == "mfa":
            from ui.mfa_page import MfaPage

            return MfaPage(ctx, op, runner)
        if key == "compliance":
            from ui.compliance_page import CompliancePage

            return CompliancePage(runner, ctx, op)
        if key == "audit":
            return AuditPage(ctx, op, runner)
        account = AccountPage(ctx, self._session, runner)
        account.session_changed.connect(self.session_changed)
        return account

    def current_page(self) -> QWidget:
        return self.pages[self.keys[self.stack.currentIndex()]]

    def show_page(self, key: str) -> QWidget:
        self.nav.setCurrentRow(self.keys.index(key))
        return self.pages[key]

    def _page_changed(self, row: int) -> None:
        if not 0 <= row < len(self.keys):
            return
        key = self.keys[row]
        page = self.pages[key]
        self.stack.setCurrentWidget(self._frames[key])
        activate = getattr(page, "activate", None)
        if callable(activate):
            activate()

    def focus_search(self) -> None:
        """Ctrl+F: the Users search box (the one page with a search, for now)."""
        page = self.pages.get("users")
        if isinstance(page, UsersPage):
            self.show_page("users")
            page.focus_search()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Workers may still hold the store: let them finish before the context closes.
        self._runner.wait_for_done(10_000)
        super().closeEvent(event)


def _scrolling(page: QWidget) -> QScrollArea:
    """``page`` filling the window where it fits and scrolling where it does not: without
    this the window could not be made smaller than its tallest page (My account) and widest
    one (Passwords), 1254 × 760, which leaves its foot off a 1366 × 768 laptop screen."""
    frame = plain_scroll(QScrollArea(), page, "pageFrame")
    frame.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return frame
