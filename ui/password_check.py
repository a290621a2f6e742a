"""Judge a password as it is typed: debounced, off the GUI thread, stale answers dropped.

``services.passwords.evaluate`` runs in bounded time (a few ms, ~0.2 s the very first time),
but the GUI thread does no password work at all: each pause in typing of ``DELAY_MS`` submits
one evaluation to the task runner, and only the answer to the latest text is delivered. The
text goes to the worker and nowhere else: it is never logged, and the ``Evaluation`` that comes
back holds nothing derived from it but its length, the strength estimate and the broken rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLineEdit

from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from policies.password_policy import PasswordPolicy
    from services.passwords import Evaluation, PasswordContext

# Long enough that steady typing sends one evaluation per pause, short enough to feel live.
DELAY_MS = 150


class LivePasswordCheck(QObject):
    evaluated = Signal(object)  # Evaluation of the field's current text
    cleared = Signal()  # the field is empty

    def __init__(self, runner: TaskRunner, edit: QLineEdit,
                 context: Callable[[], PasswordContext | None],
                 policy: PasswordPolicy | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent or edit)
        self._runner, self._edit, self._context, self._policy = runner, edit, context, policy
        self._generation = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self._evaluate)
        edit.textChanged.connect(self._text_changed)
        self._in_flight = 0
        self.latest: Evaluation | None = None

    @property
    def pending(self) -> bool:
        """True while the shown verdict may not match the text (waiting or evaluating)."""
        return self._timer.isActive() or self._in_flight > 0

    def warm_up(self) -> None:
        """Pay the engine's one-off start-up cost now, not on the first keystroke."""
        policy = self._policy

        def work(_control: TaskControl) -> None:
            from services.passwords import warm_up

            warm_up(policy)

        self._runner.submit(work, owner=self._edit)

    def recheck(self) -> None:
        """Judge the current text again (the context changed, e.g. the MFA box)."""
        self._text_changed(self._edit.text())

    def _text_changed(self, text: str) -> None:
        self._generation += 1  # any answer still on its way is for older text
        if not text:
            self._timer.stop()
            self.latest = None
            self.cleared.emit()
            return
        self._timer.start()

    def _evaluate(self) -> None:
        password = self._edit.text()
        if not password:
            return
        context, policy = self._context(), self._policy
        generation = self._generation

        def work(_control: TaskControl) -> Evaluation:
            from services.passwords import evaluate

            return evaluate(password, context, policy)

        def arrived(result: Evaluation) -> None:
            if generation == self._generation:
                self.latest = result
                self.evaluated.emit(result)

        def done() -> None:
            self._in_flight -= 1

        self._in_flight += 1
        self._runner.submit(work, owner=self._edit, on_result=arrived, on_done=done)
