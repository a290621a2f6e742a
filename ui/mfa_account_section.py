"""My account's two-step verification: the person's status, setting it up (the wizard), and
new recovery codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui import alerts
from ui.appearance import icon
from ui.mfa_enrolment_wizard import MfaEnrolmentWizard
from ui.mfa_wizard_launcher import MfaWizardLauncher
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.auth import Session
    from services.context import Context
    from services.mfa.enrolment import MfaStatus


def status_text(status: MfaStatus) -> str:
    if status.enrolled:
        when = f" since {status.confirmed_at:%Y-%m-%d}" if status.confirmed_at else ""
        text = (f"On{when}. {status.recovery_codes_left} recovery codes left.")
        if status.locked_until is not None:
            text += f" Paused after wrong codes until {status.locked_until:%Y-%m-%d %H:%M} UTC."
        if status.reenrol_advised:
            text += " Few recovery codes are left: make new ones."
        return text
    if status.required:
        when = f" by {status.enrol_by:%d %B %Y}" if status.enrol_by else ""
        return f"Not set up. Your role requires it{when}."
    return "Not set up. It is optional for your role, and recommended."


class MfaAccountSection(QWidget):
    session_changed = Signal(object)  # Session, after setting it up here

    def __init__(self, ctx: Context, session: Session, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._session, self._runner = ctx, session, runner
        self.status: MfaStatus | None = None
        heading = QLabel("Two-step verification")
        heading.setObjectName("panelHeading")
        self.status_label = QLabel("…")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.set_up_button = QPushButton(icon("mfa"), "Set up two-step &verification…")
        self.launcher = MfaWizardLauncher(ctx, session, runner, self)
        self.set_up_button.clicked.connect(self.launcher.open)
        self.launcher.enrolled.connect(self._enrolled)
        self.codes_button = QPushButton("New recovery &codes…")
        self.codes_button.setToolTip("Make ten new recovery codes; the old ones stop working")
        self.codes_button.clicked.connect(self.new_codes)
        self.codes_dialog: MfaEnrolmentWizard | None = None
        actions = QHBoxLayout()
        actions.addWidget(self.set_up_button)
        actions.addWidget(self.codes_button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading)
        layout.addWidget(self.status_label)
        layout.addLayout(actions)
        self.codes_button.setEnabled(False)

    def load(self) -> None:
        ctx, op = self._ctx, self._session.operator

        def work(_control: TaskControl) -> MfaStatus:
            from services.mfa.enrolment import my_status

            return my_status(ctx, op)

        self._runner.submit(work, owner=self, on_result=self._loaded)

    def _loaded(self, status: MfaStatus) -> None:
        self.status = status
        self.status_label.setText(status_text(status))
        verified = self._session.operator.mfa_verified
        self.set_up_button.setText("Replace &authenticator…" if status.enrolled
                                   else "Set up two-step &verification…")
        # Replacing an authenticator in use needs a sign-in that proved it.
        self.set_up_button.setEnabled(not status.enrolled or verified)
        self.codes_button.setEnabled(status.enrolled and verified)

    def _enrolled(self, session: Session) -> None:
        self._session = session
        self.session_changed.emit(session)
        self.load()

    def new_codes(self) -> None:
        if not alerts.confirm(self, "Make new recovery codes? The ones you have now stop "
                                    "working.", "Make new codes"):
            return
        ctx, op = self._ctx, self._session.operator

        def work(_control: TaskControl) -> tuple[str, ...]:
            from services.mfa.enrolment import new_recovery_codes

            return new_recovery_codes(ctx, op)

        self._runner.submit(work, owner=self, on_result=self._show_codes)

    def _show_codes(self, codes: tuple[str, ...]) -> None:
        dialog = MfaEnrolmentWizard(self._ctx, self._session, self._runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the codes go with it
        dialog.show_new_codes(codes)
        dialog.destroyed.connect(self._codes_dialog_gone)
        dialog.finished.connect(self._codes_closed)
        self.codes_dialog = dialog
        dialog.open()

    def _codes_closed(self, _result: int) -> None:
        self.load()

    def _codes_dialog_gone(self) -> None:
        self.codes_dialog = None
