"""Delete, restore and reuse of a login ID on the Users page: delete asks for a reason, deleted
rows are listed only on request, restore brings an identity back, and reusing a login ID shows
who held it before the admin can confirm."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from services.auth import Session
from services.authz import SYSTEM
from services.clock import ManualClock
from services.context import Context
from services.identity_lifecycle import delete_identity
from services.users import add_identity, get_identity, rename_identity
from tests.ui.conftest import Alerts, wait_idle
from ui.claim_dialog import ClaimDialog
from ui.reason_dialog import ReasonDialog
from ui.task_runner import TaskRunner
from ui.users_model import STATUS_ROLE, UsersModel
from ui.users_page import UsersPage

LEAVER = "robin.hale@northwind.example"


@pytest.fixture
def leaver(ctx: Context, make_person: Callable[..., object]) -> str:
    make_person(org="NWGS")  # the organisation
    return add_identity(ctx, SYSTEM, LEAVER, "Robin", "Hale", "NWGS", ["DES:viewer"]).subject


class Asked:
    """Stands in for ReasonDialog.ask: records the explanation, answers with ``answer``."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.explanations: list[str] = []

    def ask(self, title: str, explanation: str, action: str, **_kw: object) -> str | None:
        self.explanations.append(explanation)
        return self.answer


def _ask_reason(monkeypatch: pytest.MonkeyPatch, answer: str | None) -> Asked:
    asked = Asked(answer)
    monkeypatch.setattr(ReasonDialog, "ask", staticmethod(asked.ask))
    return asked


def _page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner) -> UsersPage:
    page = UsersPage(ctx, session.operator, runner)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.index_loaded, timeout=30_000):
        page.activate()
    return page


def _select(qtbot: QtBot, page: UsersPage, subject: str) -> None:
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        assert page.select_subject(subject)


def _statuses(model: UsersModel) -> dict[str, str]:
    return {model.data(model.index(r, 0)): model.data(model.index(r, 0), STATUS_ROLE)
            for r in range(model.rowCount())}


def test_delete_asks_a_reason_and_restore_brings_the_identity_back(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts, leaver: str,
        session_for: Callable[..., Session], monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    _select(qtbot, page, leaver)
    panel = page.panel
    assert panel.delete_button.isVisible() and panel.restore_button.isHidden()
    assert panel.claim_button.isHidden()

    # Cancelled: nothing happens.
    asked = _ask_reason(monkeypatch, None)
    panel.delete_button.click()
    wait_idle(qtbot, runner)
    assert get_identity(ctx, SYSTEM, leaver).status == "reset_required"
    assert "For 30 days the identity can be restored intact" in asked.explanations[0]

    asked.answer = "Left the company"
    with qtbot.waitSignal(page.index_loaded, timeout=30_000):  # the list drops the row
        panel.delete_button.click()
    wait_idle(qtbot, runner)
    assert get_identity(ctx, SYSTEM, leaver).status == "deleted"
    assert LEAVER not in _statuses(page.model)
    # The panel still shows it, deleted, with Restore and Reuse to hand.
    assert panel.values["status"].text() == "Deleted"
    assert panel.restore_button.isVisible() and panel.claim_button.isVisible()
    assert panel.delete_button.isHidden() and panel.rename_button.isHidden()

    # "Show deleted and merged" lists it again.
    with qtbot.waitSignal(page.index_loaded, timeout=30_000):
        page.show_deleted.setChecked(True)
    assert _statuses(page.model)[LEAVER] == "deleted"

    panel.restore_button.click()
    wait_idle(qtbot, runner)
    assert shown.confirmations and shown.confirmations[0].startswith(f"Restore {LEAVER}?")
    assert get_identity(ctx, SYSTEM, leaver).status == "reset_required"
    assert _statuses(page.model)[LEAVER] == "reset_required"
    assert panel.delete_button.isVisible() and panel.restore_button.isHidden()
    assert shown.errors == [] and shown.internal == []


def test_a_stale_delete_is_refused(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                   shown: Alerts, leaver: str,
                                   session_for: Callable[..., Session],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    _select(qtbot, page, leaver)
    rename_identity(ctx, SYSTEM, leaver, 1, "Robin", "Hale-Smith")  # someone else, meanwhile
    _ask_reason(monkeypatch, "Left the company")
    page.panel.delete_button.click()
    wait_idle(qtbot, runner)
    assert shown.errors == ["This identity was changed by someone else since you opened it; "
                            "reload it and try again."]
    assert get_identity(ctx, SYSTEM, leaver).status == "reset_required"


def test_keyboard_shortcuts_reach_the_actions(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                              shown: Alerts, leaver: str,
                                              session_for: Callable[..., Session],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    _select(qtbot, page, leaver)
    asked = _ask_reason(monkeypatch, None)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    assert len(asked.explanations) == 1 and LEAVER in asked.explanations[0]
    # In the search box Del edits the text instead.
    page.search.setFocus()
    qtbot.keyClick(page.search, Qt.Key.Key_Delete)
    assert len(asked.explanations) == 1
    qtbot.keyClick(page.table, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert isinstance(page.claim_dialog, ClaimDialog)  # nothing deleted: the empty dialog
    assert page.claim_dialog.email.text() == ""
    page.claim_dialog.reject()
    wait_idle(qtbot, runner)


def test_reusing_a_login_id_shows_the_previous_holder_before_confirming(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner, shown: Alerts,
        leaver: str, session_for: Callable[..., Session]) -> None:
    delete_identity(ctx, SYSTEM, leaver, reason="Left the company")
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    with qtbot.waitSignal(page.index_loaded, timeout=30_000):
        page.show_deleted.setChecked(True)
    _select(qtbot, page, leaver)

    # Within the cooling-off: said so, nothing can be claimed.
    page.panel.claim_button.click()
    dialog = page.claim_dialog
    assert isinstance(dialog, ClaimDialog)
    with qtbot.waitSignal(dialog.preview_shown, timeout=30_000):
        pass
    wait_idle(qtbot, runner)
    assert dialog.email.text() == LEAVER
    assert dialog.warning.text().startswith(f"{LEAVER} is cooling off until ")
    assert not dialog.given.isEnabled() and not dialog.acknowledge.isEnabled()
    assert not dialog.claim_button.isEnabled()
    dialog.reject()
    qtbot.waitUntil(lambda: page.claim_dialog is None, timeout=10_000)

    clock.advance(timedelta(days=31))
    dialog = page.open_claim(LEAVER, "NWGS")
    with qtbot.waitSignal(dialog.preview_shown, timeout=30_000):
        pass
    wait_idle(qtbot, runner)
    warning = dialog.warning.text()
    assert warning.startswith(f"{LEAVER} was previously held.")
    assert leaver in warning and "inherits nothing" in warning
    assert dialog.org.currentData() == "NWGS"
    qtbot.keyClicks(dialog.given, "Robin")
    qtbot.keyClicks(dialog.family, "Hale")
    assert not dialog.claim_button.isEnabled()  # not until the warning is acknowledged
    dialog.acknowledge.setChecked(True)
    assert dialog.claim_button.isEnabled()
    with qtbot.waitSignal(dialog.claimed, timeout=30_000) as claimed:
        dialog.claim_button.click()
    wait_idle(qtbot, runner)
    new = claimed.args[0]
    assert new.login_id == LEAVER and new.subject != leaver
    assert new.entitlements == () and new.status == "reset_required"  # inherits nothing
    assert get_identity(ctx, SYSTEM, LEAVER).subject == new.subject
    assert page.panel.detail is not None and page.panel.detail.subject == new.subject
    assert shown.infos and shown.infos[0].startswith(f"{LEAVER} now belongs to a new identity")
    qtbot.waitUntil(lambda: page.model.row_of(new.subject) is not None, timeout=30_000)
    assert shown.errors == [] and shown.internal == []


def test_what_an_lso_and_a_reviewer_are_offered(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                                leaver: str,
                                                session_for: Callable[..., Session]) -> None:
    lso_page = _page(qtbot, ctx, session_for("lso", org="NWGS"), runner)
    # Reuse and merging are platform admin work (services.authz); an LSO deletes in their
    # own organisation.
    assert lso_page.claim_id_button.isHidden() and lso_page.merge_accounts_button.isHidden()
    assert lso_page.suggested_button.isHidden()
    _select(qtbot, lso_page, leaver)
    assert lso_page.panel.delete_button.isVisible()
    assert lso_page.panel.merge_button.isHidden()
    assert lso_page.panel.edit_profile_button.isVisible()  # their own organisation's people

    reviewer_page = _page(qtbot, ctx, session_for("security_reviewer"), runner)
    _select(qtbot, reviewer_page, leaver)
    panel = reviewer_page.panel
    assert panel.delete_button.isHidden() and panel.edit_profile_button.isHidden()
    assert reviewer_page.claim_id_button.isHidden()
    assert reviewer_page.show_deleted.isVisible()  # reading is allowed
