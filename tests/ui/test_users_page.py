"""The Users page: search, sort, the detail panel, and what each role may do there."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from services.auth import Session
from services.authz import SYSTEM
from services.context import Context
from services.users import add_identity, get_identity, rename_identity
from tests.ui.conftest import Alerts, wait_idle
from ui.rename_dialog import RenameDialog
from ui.task_runner import TaskRunner
from ui.users_model import SUBJECT_ROLE, UsersModel
from ui.users_page import UsersPage

PEOPLE = (
    ("alex.smith@northwind.example", "Alex", "Smith", "NWGS"),
    ("sam.smithers@northwind.example", "Sam", "Smithers", "NWGS"),
    ("jo.brown@brightwater.example", "Jo", "Brown", "BRWS"),
    ("li.wei@brightwater.example", "Li", "Wei", "BRWS"),
    ("zoe.adams@xoserve.example", "Zoë", "Adams", "XOS"),
)


@pytest.fixture
def people(ctx: Context, make_person: Callable[..., object]) -> dict[str, str]:
    """Login ID → subject of a few identities in three organisations."""
    make_person(org="NWGS")  # creates the organisations too
    make_person(org="BRWS")
    subjects = {}
    for email, given, family, org in PEOPLE:
        subjects[email] = add_identity(ctx, SYSTEM, email, given, family, org,
                                       ["DES:viewer"]).subject
    return subjects


def _page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner) -> UsersPage:
    page = UsersPage(ctx, session.operator, runner)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.index_loaded, timeout=30_000):
        page.activate()
    return page


def _logins(model: UsersModel) -> list[str]:
    return [model.data(model.index(row, 0)) for row in range(model.rowCount())]


def test_search_filters_as_you_type(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                    people: dict[str, str],
                                    session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    total = page.model.rowCount()
    assert total == len(PEOPLE) + 3  # the admin and the two organisation people
    qtbot.keyClicks(page.search, "smi")
    assert sorted(_logins(page.model)) == ["alex.smith@northwind.example",
                                           "sam.smithers@northwind.example"]
    qtbot.keyClicks(page.search, "thers")
    assert _logins(page.model) == ["sam.smithers@northwind.example"]
    assert page.count.text() == f"1 of {total} identities match"
    page.search.clear()
    qtbot.keyClicks(page.search, "BRIGHTWATER WEI")  # every word, any field, any case
    assert _logins(page.model) == ["li.wei@brightwater.example"]
    page.search.setText("zoë")
    assert _logins(page.model) == ["zoe.adams@xoserve.example"]
    page.search.clear()
    assert page.model.rowCount() == total


def test_sorting_by_column(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                           people: dict[str, str], session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    names = [page.model.data(page.model.index(r, 1)) for r in range(page.model.rowCount())]
    assert names == sorted(names, key=str.casefold)  # the default: by name
    page.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)  # through the proxy
    logins = _logins(page.model)
    assert logins == sorted(logins, reverse=True)
    page.search.setText("northwind")
    assert _logins(page.model) == ["sam.smithers@northwind.example",
                                   "alex.smith@northwind.example"]


def test_detail_panel_shows_the_selected_identity(qtbot: QtBot, ctx: Context,
                                                  runner: TaskRunner, people: dict[str, str],
                                                  session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    subject = people["jo.brown@brightwater.example"]
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        assert page.select_subject(subject)
    values = {name: label.text() for name, label in page.panel.values.items()}
    assert values["email"] == "jo.brown@brightwater.example"
    assert values["given_name"] == "Jo" and values["family_name"] == "Brown"
    assert values["organisation"].endswith("(BRWS)")
    assert values["roles"] == "DES: viewer"
    assert values["subject"] == subject and values["version"] == "1"
    assert values["status"] == "Must set password"
    assert page.panel.rename_button.isVisible() and page.panel.disable_button.isVisible()
    # Typing keeps the selection on the same identity while it still matches.
    qtbot.keyClicks(page.search, "brown")
    current = page.table.currentIndex()
    assert current.data(SUBJECT_ROLE) == subject


def test_reviewer_sees_no_edit_buttons(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                       people: dict[str, str],
                                       session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, ctx, session_for("security_reviewer"), runner)
    assert page.model.rowCount() == len(PEOPLE) + 3  # reviewers read every organisation
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        page.select_subject(people["li.wei@brightwater.example"])
    assert page.panel.reload_button.isVisible()
    assert page.panel.rename_button.isHidden() and page.panel.disable_button.isHidden()


def test_lso_sees_their_own_organisation(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                         people: dict[str, str],
                                         session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, ctx, session_for("lso", org="BRWS"), runner)
    orgs = {page.model.data(page.model.index(r, 2)) for r in range(page.model.rowCount())}
    assert orgs == {"Organisation BRWS"}


def test_rename_conflict_shows_the_reload_message(qtbot: QtBot, ctx: Context,
                                                  runner: TaskRunner, shown: Alerts,
                                                  people: dict[str, str],
                                                  session_for: Callable[..., Session],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    subject = people["li.wei@brightwater.example"]
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        page.select_subject(subject)
    # Someone else renames the identity after it was opened here.
    rename_identity(ctx, SYSTEM, subject, 1, "Li", "Wei-Chen")
    monkeypatch.setattr(RenameDialog, "ask", classmethod(lambda cls, *a, **k: ("Lee", "Wei")))
    page.panel.rename_button.click()
    wait_idle(qtbot, runner)
    assert shown.errors == ["This identity was changed by someone else since you opened it; "
                            "reload it and try again."]
    assert get_identity(ctx, SYSTEM, subject).family_name == "Wei-Chen"  # not overwritten

    # Reload, then the rename goes through and the table follows.
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        page.panel.reload_button.click()
    assert page.panel.values["version"].text() == "2"
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        page.panel.rename_button.click()
    assert get_identity(ctx, SYSTEM, subject).given_name == "Lee"
    page.search.setText("lee")
    assert _logins(page.model) == ["li.wei@brightwater.example"]
    assert page.model.data(page.model.index(0, 1)) == "Wei, Lee"


def test_disable_asks_first(qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
                            people: dict[str, str],
                            session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    subject = people["jo.brown@brightwater.example"]
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        page.select_subject(subject)
    shown.confirm_answer = False
    page.panel.disable_button.click()
    assert len(shown.confirmations) == 1 and not runner.busy
    shown.confirm_answer = True
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        page.panel.disable_button.click()
    assert get_identity(ctx, SYSTEM, subject).status == "disabled"
    assert page.panel.values["status"].text() == "Disabled"
    assert page.panel.disable_button.isHidden()
    row = page.model.row_of(subject)
    assert row is not None and page.model.data(page.model.index(row, 3)) == "Disabled"


def test_first_screen_comes_before_the_index(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                             people: dict[str, str],
                                             session_for: Callable[..., Session]) -> None:
    page = UsersPage(ctx, session_for("platform_admin").operator, runner)
    qtbot.addWidget(page)
    order: list[str] = []
    page.first_screen_shown.connect(lambda: order.append("first screen"))
    page.index_loaded.connect(lambda: order.append("index"))
    page.activate()
    qtbot.waitUntil(lambda: len(order) == 2, timeout=30_000)
    assert order == ["first screen", "index"]


def test_users_model_passes_the_model_tester(qtmodeltester: object, ctx: Context,
                                             people: dict[str, str],
                                             session_for: Callable[..., Session]) -> None:
    from services.identity_index import load_identity_index
    from services.users import list_identities

    op = session_for("platform_admin").operator
    model = UsersModel()
    qtmodeltester.check(model)  # type: ignore[attr-defined]  # empty
    model.set_preview(list_identities(ctx, op, limit=3))
    qtmodeltester.check(model)  # type: ignore[attr-defined]  # the first screen
    model.set_index(load_identity_index(ctx, op))
    model.set_search("smith")
    qtmodeltester.check(model)  # type: ignore[attr-defined]  # the index, filtered
    assert model.rowCount() == 2
