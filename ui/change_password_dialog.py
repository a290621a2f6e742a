"""Change my password (My account): the current one, a new one with the live meter, confirmed.

``services.reset.change_password`` checks the current password (argon2id) and the new one
against the whole policy, history included, in the task runner. The fields are scrubbed after
use (Electrum): on success all of them, after a refusal the ones that must be typed again.
The form and its handling are the ones the reset dialog has too (``ui.password_form``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from ui.password_form import PasswordFormDialog
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.auth import Session
    from services.context import Context
    from services.passwords import PasswordContext

WRONG_CURRENT = "Your current password is not right. Type it again; the new one was not set."


class ChangePasswordDialog(PasswordFormDialog):
    password_changed = Signal()

    def __init__(self, ctx: Context, session: Session, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(
            runner, self._context, title="Change your password",
            note="Type your current password, then choose a new one. The new password must "
                 "meet the password policy (the Passwords page lists every rule) and differ "
                 "from your recent ones. We e-mail you to say it changed.",
            width=540, proof=("Current password", "&Current password"),
            proof_missing="Type your current password first.", action="Change password",
            parent=parent)
        self._ctx, self._session = ctx, session
        self.current = self.proof
        self.change_button = self.action_button

    def _context(self) -> PasswordContext:
        from services.passwords import PasswordContext

        person = self._session.identity
        return PasswordContext(given_name=person.given_name, family_name=person.family_name,
                               email=person.email, org_name=person.org_name,
                               org_code=person.org_code)

    def submit(self) -> None:
        inputs = self._inputs()
        if inputs is None:
            return
        current, new, otp = inputs
        ctx, op = self._ctx, self._session.operator

        def work(_control: TaskControl) -> None:
            from services.reset import change_password

            change_password(ctx, op, current, new, otp=otp)

        self._run(work, self._changed)

    def _failed_otherwise(self, exc: Exception) -> None:
        from services.errors import SignInFailed

        if isinstance(exc, SignInFailed):
            self._say(WRONG_CURRENT)
            self.current.clear()
            self.current.setFocus()
        else:
            super()._failed_otherwise(exc)

    def _changed(self, _result: None) -> None:
        self._finish("Your password has been changed. Use the new one the next time you sign "
                     f"in; a notice was sent to {self._session.identity.email}.", "Close")
        self.password_changed.emit()
