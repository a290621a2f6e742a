"""Complete a password reset (from the sign-in dialog): the code from the e-mail and a new
password, checked live against the policy.

``services.reset.complete_reset`` consumes the code and sets the password in one transaction;
a refused password leaves the code usable, so the person simply tries another. It signs nobody
in: the person goes back to the sign-in dialog and signs in with the new password. Someone
without a code can ask for one here (``request_reset``, which answers the same whether or not
the address has an account).
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
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
    from services.context import Context

DONE_TEXT = "Your new password is set. Sign in with your new password."


class ResetCompletionDialog(QDialog):
    completed = Signal(str)  # subject id
    code_requested = Signal(str)  # the service's answer

    def __init__(self, ctx: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._runner = ctx, runner
        self._busy = False
        self.done_ok = False
        self.setWindowTitle("Complete a password reset")
        self.setWindowIcon(icon("passwords"))
        self.setMinimumWidth(560)

        heading = QLabel("Complete a password reset")
        heading.setObjectName("dialogHeading")
        note = QLabel("Paste the reset code from the e-mail we sent you, then choose a new "
                      "password. The code works once and for a short time. Your names, "
                      "e-mail and organisation, and your recent passwords, are also checked "
                      "when you set it.")
        note.setWordWrap(True)
        note.setObjectName("fineprint")

        # No code yet: ask for one (the answer never says whether the address exists).
        request_box = QFrame()
        request_box.setObjectName("subtleBox")
        request_caption = QLabel("No code yet? Type the e-mail address you sign in with and "
                                 "we send one to it.")
        request_caption.setWordWrap(True)
        self.request_email = QLineEdit()
        self.request_email.setPlaceholderText("name@company.example")
        self.request_email.setAccessibleName("E-mail address for a reset code")
        self.request_button = QPushButton("Send me a &code")
        self.request_button.setAutoDefault(False)
        self.request_button.clicked.connect(self.request_code)
        self.request_answer = QLabel()
        self.request_answer.setObjectName("fineprint")
        self.request_answer.setWordWrap(True)
        self.request_answer.setTextFormat(Qt.TextFormat.PlainText)
        self.request_answer.hide()
        request_row = QHBoxLayout()
        request_row.addWidget(self.request_email, 1)
        request_row.addWidget(self.request_button)
        request_layout = QVBoxLayout(request_box)
        request_layout.addWidget(request_caption)
        request_layout.addLayout(request_row)
        request_layout.addWidget(self.request_answer)

        self.code = PasswordField("Reset code")
        self.form = NewPasswordForm(runner, lambda: None, self)
        self.otp = QLineEdit()
        self.otp.setAccessibleName("Authenticator code")
        self.otp.setMaxLength(8)
        self.otp_caption = QLabel("A&uthenticator code")
        self.otp_caption.setBuddy(self.otp)
        form = QFormLayout()
        form.setVerticalSpacing(8)
        code_caption = QLabel("Reset c&ode")
        code_caption.setBuddy(self.code.edit)
        form.addRow(code_caption, self.code)
        self.form.add_rows(form)
        form.addRow(self.otp_caption, self.otp)
        self._form_layout = form
        form.setRowVisible(self.otp, False)

        self.message = inline_label()
        self.success = inline_label("banner", tone="good")

        self.buttons = QDialogButtonBox()
        self.set_button = self.buttons.addButton("Set new password",
                                                 QDialogButtonBox.ButtonRole.AcceptRole)
        self.set_button.setDefault(True)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button.setAutoDefault(False)
        self.set_button.clicked.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.success)
        layout.addWidget(request_box)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        # The reset first, then asking for a code (the widgets were made in another order).
        chain = [self.code.edit, self.code.show_button, self.form.new.edit,
                 self.form.new.show_button, self.form.confirm.edit,
                 self.form.confirm.show_button, self.otp, self.set_button, self.close_button,
                 self.request_email, self.request_button]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)
        self.code.edit.textChanged.connect(self._update_button)
        self.form.changed.connect(self._update_button)
        self._fitter = HeightFitter(self)
        self.form.check.evaluated.connect(self._fitter.request)
        self.form.check.cleared.connect(self._fitter.request)
        self._update_button()
        self.code.setFocus()
        self.form.check.warm_up()

    def _update_button(self) -> None:
        ready = bool(self.code.text().strip()) and self.form.filled and self.form.matches
        self.set_button.setEnabled(ready and not self._busy and not self.done_ok)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self._fitter.request()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        enabled = not busy and not self.done_ok
        for widget in (self.code, self.otp):
            widget.setEnabled(enabled)
        self.form.set_enabled(enabled)
        self._update_button()

    # ---- completing the reset ------------------------------------------------------------

    def submit(self) -> None:
        if self._busy or self.done_ok:
            return
        token, password = self.code.text().strip(), self.form.password()
        if not token:
            self._say("Paste the reset code from the e-mail first.")
            self.code.setFocus()
            return
        if not self.form.filled or not self.form.matches:
            self._say("Type the same new password in both new-password fields.")
            self.form.confirm.setFocus()
            return
        otp = self.otp.text().strip() or None
        ctx = self._ctx

        def work(_control: TaskControl) -> str:
            from services.reset import complete_reset

            return complete_reset(ctx, token, password, otp=otp)

        self._say("")
        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._completed,
                            on_error=self._failed, on_done=lambda: self._set_busy(False))

    def _failed(self, exc: Exception) -> None:
        from services.credentials import PasswordRejected

        if isinstance(exc, PasswordRejected):
            # The code was not used up: only the password needs typing again.
            self._say(refusal_text(exc))
            self.form.clear()
            self.form.new.setFocus()
        elif needs_authenticator(exc):
            self._form_layout.setRowVisible(self.otp, True)
            self.otp.clear()
            self._say(str(exc))
            self.otp.setFocus()
        else:
            # An unusable code: it cannot work again, so it is cleared with the message.
            self._say(str(exc))
            self.code.clear()
            self.code.setFocus()

    def _completed(self, subject: str) -> None:
        self.done_ok = True
        self.code.clear()
        self.form.clear()
        self.otp.clear()
        self._say("")
        self.success.setText(DONE_TEXT)
        self.success.style().unpolish(self.success)
        self.success.style().polish(self.success)
        self.success.show()
        self._fitter.request()
        self.set_button.hide()
        self.close_button.setText("Back to sign in")
        self.close_button.setDefault(True)
        self.close_button.setFocus()
        self.completed.emit(subject)

    # ---- asking for a code ---------------------------------------------------------------

    def request_code(self) -> None:
        email = self.request_email.text().strip()
        if not email:
            self.request_answer.setText("Type your e-mail address first.")
            self.request_answer.show()
            self.request_email.setFocus()
            return
        ctx = self._ctx

        def work(_control: TaskControl) -> str:
            from services.reset import request_reset

            return request_reset(ctx, email)

        def answered(text: str) -> None:
            self.request_answer.setText(text)
            self.request_answer.show()
            self.code.setFocus()
            self.code_requested.emit(text)

        def refused(exc: Exception) -> None:
            self.request_answer.setText(str(exc))
            self.request_answer.show()
            self.request_email.setFocus()

        self.request_button.setEnabled(False)
        self._runner.submit(work, owner=self, on_result=answered, on_error=refused,
                            on_done=lambda: self.request_button.setEnabled(True))
