"""Opening the enrolment wizard from a page (the main window's banner, My account), and telling
the window when the session has become MFA-verified."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from ui.mfa_enrolment_wizard import MfaEnrolmentWizard
from ui.task_runner import TaskRunner

if TYPE_CHECKING:
    from services.auth import Session
    from services.context import Context


class MfaWizardLauncher(QObject):
    """One wizard at a time over ``parent``; ``enrolled`` carries the verified session."""

    enrolled = Signal(object)  # Session

    def __init__(self, ctx: Context, session: Session, runner: TaskRunner,
                 parent: QWidget) -> None:
        super().__init__(parent)
        self._ctx, self.session, self._runner, self._parent = ctx, session, runner, parent
        self.wizard: MfaEnrolmentWizard | None = None

    def open(self) -> None:
        if self.wizard is not None:
            self.wizard.raise_()
            return
        wizard = MfaEnrolmentWizard(self._ctx, self.session, self._runner, self._parent)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the secret goes with it
        wizard.finished.connect(self._finished)
        wizard.destroyed.connect(self._gone)
        self.wizard = wizard
        wizard.open()

    def _finished(self, _result: int) -> None:
        from services.auth import MfaStep

        wizard = self.wizard
        if wizard is not None and wizard.session.mfa is MfaStep.VERIFIED \
                and wizard.session is not self.session:
            self.session = wizard.session
            self.enrolled.emit(wizard.session)

    def _gone(self) -> None:
        self.wizard = None
