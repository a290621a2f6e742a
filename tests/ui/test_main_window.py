"""The main window: pages per role, keyboard navigation, the status bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QApplication, QLabel, QScrollArea, QWidget
from pytestqt.qtbot import QtBot

from services.auth import Session
from services.authz import SYSTEM
from services.context import Context
from services.demo import seed
from tests.ui.conftest import save_screenshot
from ui.appearance import RESOURCES, WINDOW_FRAME, fit_to_screen
from ui.main_window import MainWindow
from ui.task_runner import TaskRunner
from ui.users_model import SUBJECT_ROLE
from ui.users_page import UsersPage


@pytest.mark.parametrize(("roles", "pages"), [
    (("platform_admin",), ["Users", "Organisations", "Migration", "Passwords",
                           "Reset requests", "MFA", "Compliance", "Audit", "My account"]),
    (("security_reviewer",), ["Users", "Organisations", "Migration", "Passwords", "MFA",
                              "Compliance", "Audit", "My account"]),
    (("lso",), ["Users", "Passwords", "MFA", "My account"]),
    ((), ["Passwords", "My account"]),
])
def test_navigation_shows_what_the_role_may_use(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                                session_for: Callable[..., Session],
                                                roles: tuple[str, ...],
                                                pages: list[str]) -> None:
    window = MainWindow(ctx, session_for(*roles), runner)
    qtbot.addWidget(window)
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == pages


def test_keyboard_navigation(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                             session_for: Callable[..., Session]) -> None:
    session = session_for("platform_admin")
    window = MainWindow(ctx, session, runner)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    assert window.current_page() is window.pages["users"]
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.pages["migration"]
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.pages["passwords"]
    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.pages["intake"]
    qtbot.keyClick(window, Qt.Key.Key_6, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.pages["mfa"]
    qtbot.keyClick(window, Qt.Key.Key_7, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.pages["compliance"]
    qtbot.keyClick(window, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.pages["audit"]
    window.nav.setFocus()
    qtbot.keyClick(window.nav, Qt.Key.Key_Down)
    assert window.current_page() is window.pages["account"]
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    users = window.pages["users"]
    assert isinstance(users, UsersPage)
    assert window.current_page() is users
    assert users.search.hasFocus()
    # Every page was opened at least once: let their loads finish before the store closes.
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)


def test_status_bar_names_the_person_and_the_store(qtbot: QtBot, ctx: Context,
                                                   runner: TaskRunner,
                                                   session_for: Callable[..., Session]) -> None:
    session = session_for("security_reviewer")
    window = MainWindow(ctx, session, runner)
    qtbot.addWidget(window)
    texts = [label.text() for label in window.statusBar().findChildren(QLabel)]
    assert f"Signed in as {session.operator.login_id} (Security reviewer)" in texts
    assert f"Store: {ctx.store.display_url}" in texts
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)


def test_my_account_shows_the_signed_in_person(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                               session_for: Callable[..., Session]) -> None:
    session = session_for("lso", org="NWGS")
    window = MainWindow(ctx, session, runner)
    qtbot.addWidget(window)
    page = window.show_page("account")
    with qtbot.waitSignal(page.refreshed, timeout=30_000):  # type: ignore[attr-defined]
        page.activate()  # type: ignore[attr-defined]
    values = {k: v.text() for k, v in page.values.items()}  # type: ignore[attr-defined]
    assert values["login_id"] == session.operator.login_id
    assert values["tool_roles"] == "Local security officer"
    assert values["organisation"] == "Organisation NWGS (NWGS)"
    assert values["terms"] == "Not accepted"  # signed in by the service, not the dialog
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)


def test_the_main_window_as_an_admin_sees_it(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                              session_for: Callable[..., Session],
                                              tmp_path: Path) -> None:
    """The Users page on demo data with one identity open, saved for review."""
    seed(ctx, SYSTEM, users=60, seed=7)
    window = MainWindow(ctx, session_for("platform_admin"), runner)
    qtbot.addWidget(window)
    window.setStyleSheet((RESOURCES / "style.qss").read_text(encoding="utf-8"))  # as the app
    window.resize(1280, 760)
    window.show()
    users = window.pages["users"]
    assert isinstance(users, UsersPage)
    qtbot.waitUntil(lambda: users.model.loaded and users.model.rowCount() > 60, timeout=30_000)
    qtbot.keyClicks(users.search, "north")
    assert 0 < users.model.rowCount() < 60
    subject = users.model.index(0, 0).data(SUBJECT_ROLE)
    with qtbot.waitSignal(users.detail_shown, timeout=30_000):
        assert users.select_subject(subject)
    assert users.panel.values["subject"].text() == subject
    # Every value whole: a short window scrolls the fields instead of squeezing them.
    for label in users.panel.values.values():
        assert label.height() >= label.heightForWidth(label.width()), label.text()
    assert save_screenshot(window, "main_window_users", tmp_path).stat().st_size > 10_000
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)


def test_a_small_screen_gets_scrolling_pages_not_a_window_too_big_for_it(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        session_for: Callable[..., Session]) -> None:
    """A 1366 × 768 laptop leaves about 1000 × 600 for the window: the pages scroll there,
    instead of the tallest and widest of them setting a minimum size the screen cannot hold."""
    window = MainWindow(ctx, session_for("platform_admin"), runner)
    qtbot.addWidget(window)
    window.setStyleSheet((RESOURCES / "style.qss").read_text(encoding="utf-8"))  # as the app
    window.show()
    window.resize(1000, 600)
    qtbot.waitUntil(lambda: window.size() == QSize(1000, 600))
    for key in ("account", "passwords"):
        page = window.show_page(key)
        frame = window.stack.currentWidget()
        assert isinstance(frame, QScrollArea) and frame.widget() is page
        assert frame.viewport().height() < page.minimumSizeHint().height() or \
            frame.viewport().width() < page.minimumSizeHint().width()
        bar = (frame.verticalScrollBar() if key == "account"
               else frame.horizontalScrollBar())
        assert bar.maximum() > 0  # what does not fit is a scroll away, not cut off
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)


def test_windows_open_no_bigger_than_the_screen(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    screen = window.screen()
    assert screen is not None
    free = screen.availableGeometry()
    fit_to_screen(window, 5000, 5000)
    assert window.size() == QSize(free.width(), free.height() - WINDOW_FRAME)
    fit_to_screen(window, 300, 200)
    assert window.size() == QSize(300, 200)
    window.setMinimumSize(400, 300)  # never below the window's own minimum
    fit_to_screen(window, 300, 200)
    assert window.size() == QSize(400, 300)
