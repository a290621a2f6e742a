"""The main window's reminder while two-step verification is due (the ENROL_SOON grace
period): the person may read, not change anything privileged, until they set it up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ui.mfa_wizard_launcher import MfaWizardLauncher
from ui.task_runner import TaskRunner

if TYPE_CHECKING:
    from services.auth import Session
    from services.context import Context


class MfaBanner(QFrame):
    enrolled = Signal(object)  # the verified Session

    def __init__(self, ctx: Context, session: Session, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mfaBanner")
        when = session.enrol_by.strftime("%d %B %Y") if session.enrol_by else "soon"
        self.text = QLabel(f"Set up two-step verification by {when}. Until then you can read "
                           "everything your role allows, but not change it.")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.set_up_button = QPushButton("Set &up now…")
        self.launcher = MfaWizardLauncher(ctx, session, runner, self)
        self.set_up_button.clicked.connect(self.launcher.open)
        self.launcher.enrolled.connect(self.enrolled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.set_up_button)
