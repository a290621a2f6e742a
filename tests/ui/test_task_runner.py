"""The task runner: work off the GUI thread, outcomes on it, dropped when the owner is gone."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from services.errors import Conflict
from tests.ui.conftest import Alerts, wait_idle
from ui.task_runner import TaskControl, TaskRunner


def test_result_arrives_on_the_gui_thread(qtbot: QtBot, runner: TaskRunner) -> None:
    gui = threading.current_thread()
    ran_on: list[threading.Thread] = []
    got: list[tuple[int, threading.Thread]] = []

    def work(_control: TaskControl) -> int:
        ran_on.append(threading.current_thread())
        return 42

    runner.submit(work, owner=None, on_result=lambda v: got.append((v, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(got))
    assert got == [(42, gui)]
    assert ran_on and ran_on[0] is not gui


def test_person_errors_go_to_on_error_or_a_message(qtbot: QtBot, runner: TaskRunner,
                                                   shown: Alerts) -> None:
    def work(_control: TaskControl) -> None:
        raise Conflict("This identity")

    caught: list[tuple[Exception, threading.Thread]] = []
    runner.submit(work, owner=None,
                  on_error=lambda exc: caught.append((exc, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(caught))
    assert isinstance(caught[0][0], Conflict)
    assert caught[0][1] is threading.current_thread()
    assert shown.errors == []

    done: list[bool] = []
    runner.submit(work, owner=None, on_done=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done))
    assert shown.errors == ["This identity was changed by someone else since you opened it; "
                            "reload it and try again."]


def test_unexpected_errors_show_only_an_internal_error(qtbot: QtBot, runner: TaskRunner,
                                                       shown: Alerts) -> None:
    caught: list[Exception] = []

    def work(_control: TaskControl) -> None:
        raise KeyError("secret detail")

    runner.submit(work, owner=None, on_error=caught.append)
    qtbot.waitUntil(lambda: bool(shown.internal))
    assert shown.internal == ["KeyError"]
    assert caught == [] and shown.errors == []


def test_cancel_stops_the_work_and_drops_its_result(qtbot: QtBot, runner: TaskRunner) -> None:
    started = threading.Event()
    results: list[object] = []
    cancelled: list[bool] = []

    def work(control: TaskControl) -> str:
        started.set()
        while True:  # a long job that checks its flag, as the services do
            control.raise_if_cancelled()
            control.progress(1, 2)
            threading.Event().wait(0.005)

    handle = runner.submit(work, owner=None, on_result=results.append,
                           on_cancelled=lambda: cancelled.append(True))
    assert started.wait(10)
    handle.cancel()
    qtbot.waitUntil(lambda: bool(cancelled))
    assert results == [] and handle.cancelled

    # Work that ignores the flag still finishes, but its result is not delivered.
    release = threading.Event()
    handle = runner.submit(lambda _c: release.wait(10), owner=None, on_result=results.append,
                           on_cancelled=lambda: cancelled.append(True))
    handle.cancel()
    release.set()
    qtbot.waitUntil(lambda: len(cancelled) == 2)
    assert results == []


def test_progress_arrives_on_the_gui_thread(qtbot: QtBot, runner: TaskRunner) -> None:
    seen: list[tuple[int, int, bool]] = []
    gui = threading.current_thread()

    def work(control: TaskControl) -> None:
        for done in range(1, 4):
            control.progress(done, 3)

    runner.submit(work, owner=None,
                  on_progress=lambda d, t: seen.append((d, t, threading.current_thread() is gui)))
    wait_idle(qtbot, runner)
    assert seen and seen[-1] == (3, 3, True)


def test_outcome_is_dropped_when_the_owner_is_gone(qtbot: QtBot, runner: TaskRunner,
                                                    shown: Alerts) -> None:
    owner = QWidget()
    release = threading.Event()
    results: list[object] = []
    done: list[bool] = []
    runner.submit(lambda _c: release.wait(10), owner=owner, on_result=results.append,
                  on_done=lambda: done.append(True))
    failing = QWidget()
    runner.submit(lambda _c: (release.wait(10), 1 / 0), owner=failing,
                  on_done=lambda: done.append(True))
    shiboken6.delete(owner)
    shiboken6.delete(failing)
    release.set()
    wait_idle(qtbot, runner)
    assert results == [] and done == [] and shown.internal == []


def test_busy_is_announced(qtbot: QtBot, runner: TaskRunner) -> None:
    states: list[bool] = []
    runner.busy_changed.connect(states.append)
    with qtbot.waitSignal(runner.busy_changed, check_params_cb=lambda busy: not busy):
        runner.submit(lambda _c: None, owner=None)
    assert states == [True, False]
