"""The one way work leaves the GUI thread (Anki ``CollectionOp``, Electrum ``TaskThread``,
KeePassXC ``runThenCallback``).

``TaskRunner.submit(work, owner=widget, on_result=...)`` runs ``work(control)`` on a worker
thread. Its result, error, progress and cancellation come back as queued signals, so every
callback runs on the GUI thread — and none runs once ``owner`` has been destroyed. The work gets
a ``TaskControl``: ``control.progress`` is the plain ``progress(done, total)`` callback the
services accept, ``control.cancelled`` the flag they check.

The work must never touch a widget (Qt widgets belong to the GUI thread), and nothing here
calls ``processEvents``: the event loop keeps running while the work does.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QWidget

from ui import alerts

T = TypeVar("T")
log = logging.getLogger(__name__)

# Picard: hand progress to the GUI in ~50 ms batches; a signal per item floods the event loop.
PROGRESS_INTERVAL_S = 0.05
# A worker busy in Python holds the GIL, and every call from Qt into Python (each data() of a
# paint) waits up to the switch interval for it: 5 ms by default makes the table stutter while
# the identity index loads. 1 ms measured about 40% faster repaints during a load.
GIL_SWITCH_INTERVAL_S = 0.001


class TaskCancelled(Exception):
    """Raised by work that saw its cancel flag (``TaskControl.raise_if_cancelled``)."""


class TaskControl:
    """What the work may use: progress reporting and the cancel flag (thread-safe)."""

    def __init__(self, report: Callable[[int, int], None]) -> None:
        self._cancel = threading.Event()
        self._report = report
        self._last_report = 0.0

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def raise_if_cancelled(self) -> None:
        if self._cancel.is_set():
            raise TaskCancelled()

    def progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            self._report(done, total)


class _Relay(QObject):
    """Lives on the GUI thread; workers emit on it, so delivery is queued to that thread."""

    finished = Signal(int, object)
    failed = Signal(int, object)
    progressed = Signal(int, int, int)


class _Job(QRunnable):
    def __init__(self, task_id: int, work: Callable[[TaskControl], Any], control: TaskControl,
                 relay: _Relay) -> None:
        super().__init__()
        self._task_id, self._work, self._control, self._relay = task_id, work, control, relay

    def run(self) -> None:
        try:
            result = self._work(self._control)
        except BaseException as exc:  # delivered to the GUI thread, never lost in a worker
            self._relay.failed.emit(self._task_id, exc)
        else:
            self._relay.finished.emit(self._task_id, result)


@dataclass
class _Task(Generic[T]):
    owner: QObject | None
    control: TaskControl
    on_result: Callable[[T], None] | None
    on_error: Callable[[Exception], None] | None
    on_progress: Callable[[int, int], None] | None
    on_cancelled: Callable[[], None] | None
    on_done: Callable[[], None] | None


class TaskHandle:
    """The GUI side of one submitted task."""

    def __init__(self, control: TaskControl) -> None:
        self._control = control

    def cancel(self) -> None:
        """Ask the work to stop; its result, if it still finishes, is dropped."""
        self._control.cancel()

    @property
    def cancelled(self) -> bool:
        return self._control.cancelled


def person_message(exc: BaseException) -> str | None:
    """The sentence to show for an error a person can act on; None for a fault of ours."""
    from policies import PolicyError
    from services.errors import GatehouseError

    if isinstance(exc, GatehouseError | PolicyError):
        return str(exc)
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return (f"The database refused the operation ({detail}); nothing was changed. "
                "Try again, and check the database if it keeps happening.")
    return None


def _is_gatehouse_error(exc: BaseException) -> bool:
    from policies import PolicyError
    from services.errors import GatehouseError

    return isinstance(exc, GatehouseError | PolicyError)


def window_of(owner: QObject | None) -> QWidget | None:
    """The window to put a message box on, if the owner is (inside) a live widget."""
    if isinstance(owner, QWidget) and shiboken6.isValid(owner):
        return owner.window()
    return None


class TaskRunner(QObject):
    """Runs work on a small thread pool; see the module docstring."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 4) -> None:
        super().__init__(parent)
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        queued = Qt.ConnectionType.QueuedConnection
        self._relay.finished.connect(self._finished, queued)
        self._relay.failed.connect(self._failed, queued)
        self._relay.progressed.connect(self._progressed, queued)
        self._tasks: dict[int, _Task[Any]] = {}
        self._ids = itertools.count(1)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def submit(self, work: Callable[[TaskControl], T], *, owner: QObject | None,
               on_result: Callable[[T], None] | None = None,
               on_error: Callable[[Exception], None] | None = None,
               on_progress: Callable[[int, int], None] | None = None,
               on_cancelled: Callable[[], None] | None = None,
               on_done: Callable[[], None] | None = None) -> TaskHandle:
        """Run ``work(control)`` off the GUI thread; callbacks run on the GUI thread.

        ``on_error`` receives errors meant for a person (``GatehouseError``, ``PolicyError``);
        without it, they and database refusals are shown in a message box. Faults of
        Gatehouse itself always go to the internal-error box, the traceback to the log only.
        ``on_done`` runs after any outcome, e.g. to re-enable a button.
        """
        task_id = next(self._ids)
        relay = self._relay
        control = TaskControl(
            lambda done, total: relay.progressed.emit(task_id, done, total))
        self._tasks[task_id] = _Task(owner, control, on_result, on_error, on_progress,
                                     on_cancelled, on_done)
        if len(self._tasks) == 1:
            self.busy_changed.emit(True)
        self._pool.start(_Job(task_id, work, control, relay))
        return TaskHandle(control)

    def wait_for_done(self, msecs: int = -1) -> bool:
        """Block until the workers are idle (for shutdown and benchmarks, not the GUI)."""
        return bool(self._pool.waitForDone(msecs))

    # ---- delivery, on the GUI thread -----------------------------------------------------

    def _take(self, task_id: int) -> _Task[Any] | None:
        task = self._tasks.pop(task_id, None)
        if not self._tasks:
            self.busy_changed.emit(False)
        if task is None:
            return None
        if task.owner is not None and not shiboken6.isValid(task.owner):
            return None  # the widget that asked is gone: drop the outcome
        return task

    @Slot(int, object)
    def _finished(self, task_id: int, result: object) -> None:
        task = self._take(task_id)
        if task is None:
            return
        try:
            if task.control.cancelled:
                if task.on_cancelled:
                    task.on_cancelled()
            elif task.on_result:
                task.on_result(result)
        finally:
            if task.on_done:
                task.on_done()

    @Slot(int, object)
    def _failed(self, task_id: int, exc: object) -> None:
        task = self._take(task_id)
        if task is None:
            return
        assert isinstance(exc, BaseException)
        try:
            if isinstance(exc, TaskCancelled) or task.control.cancelled:
                if task.on_cancelled:
                    task.on_cancelled()
                return
            message = person_message(exc)
            if message is not None:
                if task.on_error and isinstance(exc, Exception) and _is_gatehouse_error(exc):
                    task.on_error(exc)
                else:
                    alerts.show_error(window_of(task.owner), message)
                return
            log.error("task failed", exc_info=exc)
            alerts.show_internal_error(window_of(task.owner), type(exc).__name__)
        finally:
            if task.on_done:
                task.on_done()

    @Slot(int, int, int)
    def _progressed(self, task_id: int, done: int, total: int) -> None:
        task = self._tasks.get(task_id)
        if task is None or task.on_progress is None or task.control.cancelled:
            return
        if task.owner is not None and not shiboken6.isValid(task.owner):
            return
        task.on_progress(done, total)
