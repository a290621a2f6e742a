"""Change my password (My account): the current one, a new one with the live meter, confirmed.

``services.reset.change_password`` checks the current password (argon2id) and the new one
against the whole policy, history included, in the task runner. The fields are scrubbed after
use (Electrum): on success all of them, after a refusal the ones that must be typed again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ui.alerts import inline_label
from ui.appearance import icon
from ui.fit_to_content import HeightFitter
from ui.new_password_form import NewPasswordForm, needs_authenticator, refusal_text
from ui.password_field import PasswordField
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.auth import Session
    from services.context import Context
    from services.passwords import PasswordContext

WRONG_CURRENT = "Your current password is not right. Type it again; the new one was not set."


class ChangePasswordDialog(QDialog):
    password_changed = Signal()

    def __init__(self, ctx: Context, session: Session, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._session, self._runner = ctx, session, runner
        self._busy = False
        self.done_ok = False
        self.setWindowTitle("Change your password")
        self.setWindowIcon(icon("passwords"))
        self.setMinimumWidth(540)

        heading = QLabel("Change your password")
        heading.setObjectName("dialogHeading")
        note = QLabel("Type your current password, then choose a new one. The new password "
                      "must meet the password policy (the Passwords page lists every rule) and "
                      "differ from your recent ones. We e-mail you to say it changed.")
        note.setWordWrap(True)
        note.setObjectName("fineprint")
        self.current = PasswordField("Current password")
        self.form = NewPasswordForm(runner, self._context, self)
        self.otp = QLineEdit()
        self.otp.setAccessibleName("Authenticator code")
        self.otp.setMaxLength(8)
        self.otp_caption = QLabel("A&uthenticator code")
        self.otp_caption.setBuddy(self.otp)
        form = QFormLayout()
        form.setVerticalSpacing(8)
        current_caption = QLabel("&Current password")
        current_caption.setBuddy(self.current.edit)
        form.addRow(current_caption, self.current)
        self.form.add_rows(form)
        form.addRow(self.otp_caption, self.otp)
        self._form_layout = form
        self._show_otp(False)

        self.message = inline_label()
        self.success = inline_label("banner", tone="good")

        self.buttons = QDialogButtonBox()
        self.change_button = self.buttons.addButton("Change password",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.change_button.setDefault(True)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button.setAutoDefault(False)
        self.change_button.clicked.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.success)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self.current.edit.textChanged.connect(self._update_button)
        self.form.changed.connect(self._update_button)
        self._fitter = HeightFitter(self)
        self.form.check.evaluated.connect(self._fitter.request)
        self.form.check.cleared.connect(self._fitter.request)
        self._update_button()
        self.current.setFocus()
        self.form.check.warm_up()

    def _context(self) -> PasswordContext:
        from services.passwords import PasswordContext

        person = self._session.identity
        return PasswordContext(given_name=person.given_name, family_name=person.family_name,
                               email=person.email, org_name=person.org_name,
                               org_code=person.org_code)

    def _show_otp(self, shown: bool) -> None:
        self._form_layout.setRowVisible(self.otp, shown)

    def _update_button(self) -> None:
        ready = bool(self.current.text()) and self.form.filled and self.form.matches
        self.change_button.setEnabled(ready and not self._busy and not self.done_ok)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self._fitter.request()

    def submit(self) -> None:
        if self._busy or self.done_ok:
            return
        current, new = self.current.text(), self.form.password()
        if not current:
            self._say("Type your current password first.")
            self.current.setFocus()
            return
        if not self.form.filled or not self.form.matches:
            self._say("Type the same new password in both new-password fields.")
            self.form.confirm.setFocus()
            return
        otp = self.otp.text().strip() or None
        ctx, op = self._ctx, self._session.operator

        def work(_control: TaskControl) -> None:
            from services.reset import change_password

            change_password(ctx, op, current, new, otp=otp)

        self._say("")
        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._changed, on_error=self._failed,
                            on_done=lambda: self._set_busy(False))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (self.current, self.otp):
            widget.setEnabled(not busy and not self.done_ok)
        self.form.set_enabled(not busy and not self.done_ok)
        self._update_button()

    def _failed(self, exc: Exception) -> None:
        from services.credentials import PasswordRejected
        from services.errors import SignInFailed

        if isinstance(exc, SignInFailed):
            self._say(WRONG_CURRENT)
            self.current.clear()
            self.current.setFocus()
        elif isinstance(exc, PasswordRejected):
            self._say(refusal_text(exc))
            self.form.clear()
            self.form.new.setFocus()
        elif needs_authenticator(exc):
            self._show_otp(True)
            self.otp.clear()
            self._say(str(exc))
            self.otp.setFocus()
        else:
            self._say(str(exc))

    def _changed(self, _result: None) -> None:
        self.done_ok = True
        self.current.clear()
        self.form.clear()
        self.otp.clear()
        self._say("")
        self.success.setText("Your password has been changed. Use the new one the next time "
                             "you sign in; a notice was sent to "
                             f"{self._session.identity.email}.")
        self.success.style().unpolish(self.success)
        self.success.style().polish(self.success)
        self.success.show()
        self._fitter.request()
        self.change_button.hide()
        self.close_button.setText("Close")
        self.close_button.setDefault(True)
        self.close_button.setFocus()
        self.password_changed.emit()
