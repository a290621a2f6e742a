"""Complete a password reset (from the sign-in dialog): the code from the e-mail and a new
password, checked live against the policy.

``services.reset.complete_reset`` consumes the code and sets the password in one transaction;
a refused password leaves the code usable, so the person simply tries another. It signs nobody
in: the person goes back to the sign-in dialog and signs in with the new password. Someone
without a code can ask for one here (``request_reset``, which answers the same whether or not
the address has an account). The form and its handling are the ones the change-password dialog
has too (``ui.password_form``).
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.password_form import PasswordFormDialog
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.context import Context

DONE_TEXT = "Your new password is set. Sign in with your new password."


class ResetCompletionDialog(PasswordFormDialog):
    completed = Signal(str)  # subject id
    code_requested = Signal(str)  # the service's answer

    def __init__(self, ctx: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(
            runner, lambda: None, title="Complete a password reset",
            note="Paste the reset code from the e-mail we sent you, then choose a new password. "
                 "The code works once and for a short time. Your names, e-mail and "
                 "organisation, and your recent passwords, are also checked when you set it.",
            width=560, proof=("Reset code", "Reset c&ode"),
            proof_missing="Paste the reset code from the e-mail first.",
            action="Set new password", parent=parent)
        self._ctx = ctx
        self.code = self.proof
        self.set_button = self.action_button

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
        self.add_section(request_box)

        # The reset first, then asking for a code: said outright, not left to the order in
        # which the widgets joined the dialog.
        chain = [self.code.edit, self.code.show_button, self.form.new.edit,
                 self.form.new.show_button, self.form.confirm.edit,
                 self.form.confirm.show_button, self.otp, self.set_button, self.close_button,
                 self.request_email, self.request_button]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _proof_text(self) -> str:
        return self.proof.text().strip()  # a pasted code may bring spaces with it

    # ---- completing the reset ------------------------------------------------------------

    def submit(self) -> None:
        inputs = self._inputs()
        if inputs is None:
            return
        token, password, otp = inputs
        ctx = self._ctx

        def work(_control: TaskControl) -> str:
            from services.reset import complete_reset

            return complete_reset(ctx, token, password, otp=otp)

        self._run(work, self._completed)

    def _failed_otherwise(self, exc: Exception) -> None:
        # An unusable code: it cannot work again, so it is cleared with the message.
        self._say(str(exc))
        self.code.clear()
        self.code.setFocus()

    def _completed(self, subject: str) -> None:
        self._finish(DONE_TEXT, "Back to sign in")
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
