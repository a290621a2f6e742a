"""Try a password against the policy, live, without setting it.

Judged as a password for the signed-in person (their names, email and organisation count
against it), so what the tester says is what setting it would say — except the history rule,
which needs the stored hashes and is checked when a password is really set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QCheckBox, QFrame, QLabel, QVBoxLayout, QWidget

from ui.password_check import LivePasswordCheck
from ui.password_field import PasswordField
from ui.strength_meter import StrengthMeter
from ui.task_runner import TaskRunner

if TYPE_CHECKING:
    from services.passwords import PasswordContext
    from services.users import IdentityDetail


class PasswordTester(QFrame):
    def __init__(self, runner: TaskRunner, person: IdentityDetail,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self._person = person
        heading = QLabel("Try a password")
        heading.setObjectName("panelHeading")
        note = QLabel("See how a password measures up before you set it. What you type here is "
                      "not stored, sent or logged. It is judged as a password for you, so your "
                      "names, email and organisation count against it; reuse of your recent "
                      "passwords is checked only when you set one.")
        note.setObjectName("fineprint")
        note.setWordWrap(True)
        caption = QLabel("&Password to try")
        self.field = PasswordField("Password to try")
        caption.setBuddy(self.field.edit)
        self.mfa = QCheckBox("Judge as an account with &multi-factor authentication "
                             "(shorter minimum)")
        self.meter = StrengthMeter()
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addSpacing(6)
        layout.addWidget(caption)
        layout.addWidget(self.field)
        layout.addWidget(self.mfa)
        layout.addSpacing(4)
        layout.addWidget(self.meter)
        layout.addStretch(1)
        self.check = LivePasswordCheck(runner, self.field.edit, self._context, parent=self)
        self.check.evaluated.connect(self.meter.show_evaluation)
        self.check.cleared.connect(self.meter.clear)
        self.mfa.toggled.connect(self._mfa_toggled)
        self.setFocusProxy(self.field)

    def _mfa_toggled(self, _checked: bool) -> None:
        self.check.recheck()  # the minimum length depends on it

    def _context(self) -> PasswordContext:
        from services.passwords import PasswordContext

        person = self._person
        return PasswordContext(given_name=person.given_name, family_name=person.family_name,
                               email=person.email, org_name=person.org_name,
                               org_code=person.org_code, has_mfa=self.mfa.isChecked())
