"""My account: the signed-in person's own details, the profile fields they may correct, and
changing their password."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.appearance import icon
from ui.change_password_dialog import ChangePasswordDialog
from ui.mfa_account_section import MfaAccountSection
from ui.profile_editor import ProfileEditor
from ui.task_runner import TaskControl, TaskRunner
from ui.users_model import STATUS_TEXT

if TYPE_CHECKING:
    from services.auth import Session
    from services.context import Context
    from services.users import IdentityDetail

ROLE_TEXT = {"platform_admin": "Platform admin", "lso": "Local security officer",
             "security_reviewer": "Security reviewer", "user": "User (self-service)"}


class AccountPage(QWidget):
    refreshed = Signal()
    session_changed = Signal(object)  # Session: two-step verification was set up here

    def __init__(self, ctx: Context, session: Session, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._session, self._runner = ctx, session, runner
        title = QLabel("My account")
        title.setObjectName("pageTitle")
        note = QLabel("Your account as the store holds it. Correct your name and details in "
                      "the profile below; the changes are recorded in the audit trail.")
        note.setObjectName("fineprint")
        note.setWordWrap(True)
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setVerticalSpacing(8)
        form.setHorizontalSpacing(16)
        for name, text in (("login_id", "Login ID"),
                           ("organisation", "Organisation"), ("status", "Status"),
                           ("tool_roles", "Gatehouse roles"), ("entitlements", "Product roles"),
                           ("terms", "Sign-in terms"), ("subject", "Subject id")):
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.values[name] = label
            caption = QLabel(text)
            caption.setObjectName("caption")
            form.addRow(caption, label)
        self.change_password_button = QPushButton(icon("passwords"), "Change password…")
        self.change_password_button.setToolTip("Choose a new password; you need your current one")
        self.change_password_button.clicked.connect(self.change_password)
        self.change_dialog: ChangePasswordDialog | None = None
        actions = QHBoxLayout()
        actions.addWidget(self.change_password_button)
        actions.addStretch(1)
        self.profile = ProfileEditor(ctx, session.operator, runner)
        self.profile.setMaximumWidth(720)
        self.profile.saved.connect(self._show)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addSpacing(12)
        layout.addWidget(self.profile)
        layout.addSpacing(12)
        layout.addLayout(actions)
        layout.addSpacing(12)
        self.mfa = MfaAccountSection(ctx, session, runner)
        self.mfa.session_changed.connect(self.session_changed)
        layout.addWidget(self.mfa)
        layout.addStretch(1)
        self._show(session.identity)
        self.profile.show_detail(session.identity)

    def change_password(self) -> None:
        """Open the change-password dialog (window-modal; the page goes on painting)."""
        if self.change_dialog is not None:
            self.change_dialog.raise_()
            return
        dialog = ChangePasswordDialog(self._ctx, self._session, self._runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the fields go with it
        dialog.password_changed.connect(self.activate)  # the status may have changed
        dialog.destroyed.connect(self._dialog_gone)
        self.change_dialog = dialog
        dialog.open()

    def _dialog_gone(self) -> None:
        self.change_dialog = None

    def activate(self) -> None:
        ctx, op = self._ctx, self._session.operator

        def work(_control: TaskControl) -> IdentityDetail:
            from services.users import get_identity

            return get_identity(ctx, op, op.subject)

        self._runner.submit(work, owner=self, on_result=self._refreshed)
        self.mfa.load()

    def _refreshed(self, detail: IdentityDetail) -> None:
        self._show(detail)
        if not self.profile.changes():  # never throw away what the person is typing
            self.profile.show_detail(detail)
        self.refreshed.emit()

    def _show(self, detail: IdentityDetail) -> None:
        from services.store.schema import TOOL_PRODUCT

        roles = sorted(ROLE_TEXT.get(r, r) for p, r in detail.entitlements if p == TOOL_PRODUCT)
        products = [f"{p}: {r}" for p, r in detail.entitlements if p != TOOL_PRODUCT]
        text = {
            "login_id": detail.login_id,
            "organisation": f"{detail.org_name} ({detail.org_code})",
            "status": STATUS_TEXT.get(detail.status, detail.status),
            "tool_roles": ", ".join(roles) or "User (self-service)",
            "entitlements": ", ".join(products) or "None",
            "terms": "Accepted (current version)" if self._session.terms_accepted
            else "Not accepted",
            "subject": detail.subject,
        }
        for name, label in self.values.items():
            label.setText(text[name])
