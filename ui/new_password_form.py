"""The part every set-a-password dialog shares: the new password with its live meter, and the
same password typed again.

The meter is a guide; the service's check when the password is set is the one that counts
(it also compares with the password history, which the meter cannot see).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFormLayout, QLabel

from ui.password_check import LivePasswordCheck
from ui.password_field import PasswordField
from ui.strength_meter import StrengthMeter
from ui.task_runner import TaskRunner

if TYPE_CHECKING:
    from services.passwords import PasswordContext


def needs_authenticator(exc: Exception) -> bool:
    """The service asks for an authenticator code as well."""
    from services.errors import MfaCodeRequired

    return isinstance(exc, MfaCodeRequired)


def refusal_text(exc: Exception) -> str:
    """A refused password: the service's reasons as a list a person can work through."""
    from services.credentials import PasswordRejected

    if isinstance(exc, PasswordRejected) and exc.reasons:
        return ("The new password was not accepted. Choose one that meets every rule:\n"
                + "\n".join(f"• {reason}" for reason in exc.reasons))
    return str(exc)


class NewPasswordForm(QObject):
    changed = Signal()  # either field changed

    def __init__(self, runner: TaskRunner, context: Callable[[], PasswordContext | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.new = PasswordField("New password")
        self.confirm = PasswordField("New password again")
        self.meter = StrengthMeter()
        self.match = QLabel()
        self.match.setObjectName("fineprint")
        self.match.setWordWrap(True)
        self.check = LivePasswordCheck(runner, self.new.edit, context, parent=self)
        self.check.evaluated.connect(self.meter.show_evaluation)
        self.check.cleared.connect(self.meter.clear)
        self.new.edit.textChanged.connect(self._changed)
        self.confirm.edit.textChanged.connect(self._changed)
        self._changed()

    def add_rows(self, form: QFormLayout) -> None:
        new_caption = QLabel("&New password")
        new_caption.setBuddy(self.new.edit)
        confirm_caption = QLabel("New password &again")
        confirm_caption.setBuddy(self.confirm.edit)
        form.addRow(new_caption, self.new)
        form.addRow("", self.meter)
        form.addRow(confirm_caption, self.confirm)
        form.addRow("", self.match)

    def password(self) -> str:
        return self.new.text()

    @property
    def filled(self) -> bool:
        return bool(self.new.text() and self.confirm.text())

    @property
    def matches(self) -> bool:
        return self.new.text() == self.confirm.text()

    def clear(self) -> None:
        self.new.clear()
        self.confirm.clear()

    def set_enabled(self, enabled: bool) -> None:
        self.new.setEnabled(enabled)
        self.confirm.setEnabled(enabled)

    def _changed(self) -> None:
        if not self.confirm.text():
            self.match.setText("Type the new password again to confirm it.")
        elif self.matches:
            self.match.setText("The two new passwords match.")
        else:
            self.match.setText("The two new passwords do not match yet.")
        self.changed.emit()
