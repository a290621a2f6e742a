"""The frame both set-a-password dialogs share (change my password, complete a reset).

Each asks for one thing that proves the person may set the password (the current password or
the reset code), then the new password with its live meter and the same password again, and
an authenticator code only once the service asks for one. The service's answer comes back the
same way in both: a refused password clears just the new fields, a request for the code shows
that row, and on success every field is scrubbed and only closing is left. The dialogs add what
differs: their texts, the service call (run in the task runner, never on the GUI thread), and
what their other refusals clear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

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
    from services.passwords import PasswordContext

T = TypeVar("T")

MISMATCH = "Type the same new password in both new-password fields."


class PasswordFormDialog(QDialog):
    """``proof`` is the first field (its accessible name and mnemonic caption are given),
    ``form`` the new password, ``action_button`` the one that submits; the subclass runs the
    service from ``submit`` with ``_inputs`` and ``_run``, and ends with ``_finish``."""

    def __init__(self, runner: TaskRunner, context: Callable[[], PasswordContext | None], *,
                 title: str, note: str, width: int, proof: tuple[str, str], proof_missing: str,
                 action: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._proof_missing = proof_missing
        self._busy = False
        self.done_ok = False
        self.setWindowTitle(title)
        self.setWindowIcon(icon("passwords"))
        self.setMinimumWidth(width)

        heading = QLabel(title)
        heading.setObjectName("dialogHeading")
        note_label = QLabel(note)
        note_label.setWordWrap(True)
        note_label.setObjectName("fineprint")
        proof_name, proof_caption_text = proof
        self.proof = PasswordField(proof_name)
        self.form = NewPasswordForm(runner, context, self)
        self.otp = QLineEdit()
        self.otp.setAccessibleName("Authenticator code")
        self.otp.setMaxLength(8)
        self.otp_caption = QLabel("A&uthenticator code")
        self.otp_caption.setBuddy(self.otp)
        form = QFormLayout()
        form.setVerticalSpacing(8)
        proof_caption = QLabel(proof_caption_text)
        proof_caption.setBuddy(self.proof.edit)
        form.addRow(proof_caption, self.proof)
        self.form.add_rows(form)
        form.addRow(self.otp_caption, self.otp)
        self._form_layout = form
        self._show_otp(False)

        self.message = inline_label()
        self.success = inline_label("banner", tone="good")

        self.buttons = QDialogButtonBox()
        self.action_button = self.buttons.addButton(action,
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.action_button.setDefault(True)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button.setAutoDefault(False)
        self.action_button.clicked.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(note_label)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.success)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self._layout = layout

        self.proof.edit.textChanged.connect(self._update_button)
        self.form.changed.connect(self._update_button)
        self._fitter = HeightFitter(self)
        self.form.check.evaluated.connect(self._fitter.request)
        self.form.check.cleared.connect(self._fitter.request)
        self._update_button()
        self.proof.setFocus()
        self.form.check.warm_up()

    def add_section(self, widget: QWidget) -> None:
        """A part of the subclass's own below the messages, above the buttons."""
        self._layout.insertWidget(self._layout.count() - 2, widget)  # before stretch, buttons

    def _proof_text(self) -> str:
        """The first field as the service takes it; a reset code drops pasted spaces."""
        return self.proof.text()

    def _show_otp(self, shown: bool) -> None:
        self._form_layout.setRowVisible(self.otp, shown)

    def _update_button(self) -> None:
        ready = bool(self._proof_text()) and self.form.filled and self.form.matches
        self.action_button.setEnabled(ready and not self._busy and not self.done_ok)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self._fitter.request()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        enabled = not busy and not self.done_ok
        for widget in (self.proof, self.otp):
            widget.setEnabled(enabled)
        self.form.set_enabled(enabled)
        self._update_button()

    # ---- submitting ----------------------------------------------------------------------

    def submit(self) -> None:
        """Subclasses send ``_inputs()`` to their service with ``_run``."""
        raise NotImplementedError

    def _inputs(self) -> tuple[str, str, str | None] | None:
        """The proof, the new password and the authenticator code (None if not given), or
        None after saying what is missing (Enter does nothing while busy or done either)."""
        if self._busy or self.done_ok:
            return None
        proof = self._proof_text()
        if not proof:
            self._say(self._proof_missing)
            self.proof.setFocus()
            return None
        if not self.form.filled or not self.form.matches:
            self._say(MISMATCH)
            self.form.confirm.setFocus()
            return None
        return proof, self.form.password(), self.otp.text().strip() or None

    def _run(self, work: Callable[[TaskControl], T], on_result: Callable[[T], None]) -> None:
        """Run the service call in the task runner, the fields off until it answers."""
        self._say("")
        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=on_result, on_error=self._failed,
                            on_done=lambda: self._set_busy(False))

    def _failed(self, exc: Exception) -> None:
        from services.credentials import PasswordRejected

        if isinstance(exc, PasswordRejected):
            # The proof still holds: only the new password needs typing again.
            self._say(refusal_text(exc))
            self.form.clear()
            self.form.new.setFocus()
        elif needs_authenticator(exc):
            self._show_otp(True)
            self.otp.clear()
            self._say(str(exc))
            self.otp.setFocus()
        else:
            self._failed_otherwise(exc)

    def _failed_otherwise(self, exc: Exception) -> None:
        """Any other refusal: said as the service put it; subclasses clear what it spoils."""
        self._say(str(exc))

    def _finish(self, text: str, close_text: str) -> None:
        """The password is set: every field scrubbed, ``text`` in the banner, and the close
        button (now ``close_text``) the only one left."""
        self.done_ok = True
        self.proof.clear()
        self.form.clear()
        self.otp.clear()
        self._say("")
        self.success.setText(text)
        self.success.style().unpolish(self.success)
        self.success.style().polish(self.success)
        self.success.show()
        self._fitter.request()
        self.action_button.hide()
        self.close_button.setText(close_text)
        self.close_button.setDefault(True)
        self.close_button.setFocus()
