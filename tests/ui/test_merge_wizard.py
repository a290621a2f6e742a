"""The merge wizard (pick → side-by-side preview with conflicts → confirm → result, and undo),
the suggested-merges list that opens it, and the merge history that undoes a merge."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot

from services.auth import Session
from services.authz import SYSTEM
from services.context import Context
from services.merge import merge, plan_merge
from services.users import add_identity, get_identity, rename_identity
from tests.ui.conftest import Alerts, wait_idle
from ui.merge_history_dialog import MergeHistoryDialog
from ui.merge_preview_model import CONFLICT, GAINED, STATE_ROLE, MergePreviewModel
from ui.merge_wizard import CONFIRM, PREVIEW, RESULT, MergeWizard
from ui.suggested_merges import SuggestedMergesDialog
from ui.task_runner import TaskRunner
from ui.users_model import STATUS_ROLE
from ui.users_page import UsersPage

MAIN = "alex.morgan@northwind.example"
SECOND = "alex.morgan1@northwind.example"  # made when the first ID could not be reused
ELSEWHERE = "a.morgan@brightwater.example"


@pytest.fixture
def accounts(ctx: Context, make_person: Callable[..., object]) -> dict[str, str]:
    """Login ID → subject: one person's three accounts, one in another organisation."""
    make_person(org="NWGS")
    make_person(org="BRWS")
    return {
        MAIN: add_identity(ctx, SYSTEM, MAIN, "Alex", "Morgan", "NWGS",
                           ["DES:viewer"]).subject,
        SECOND: add_identity(ctx, SYSTEM, SECOND, "Alex", "Morgan", "NWGS",
                             ["UKLINK:submitter"]).subject,
        ELSEWHERE: add_identity(ctx, SYSTEM, ELSEWHERE, "Alex", "Morgan", "BRWS",
                                ["GATEHOUSE:security_reviewer"]).subject,
    }


def _page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner) -> UsersPage:
    page = UsersPage(ctx, session.operator, runner)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.index_loaded, timeout=30_000):
        page.activate()
    return page


def _next(wizard: MergeWizard) -> None:
    button = wizard.button(QWizard.WizardButton.NextButton)
    assert button.isEnabled()
    button.click()


def _cells(model: MergePreviewModel, title: str) -> list[tuple[str, str]]:
    row = next(r for r in range(model.rowCount()) if model.row_title(r) == title)
    return [(model.index(row, c).data(), model.index(row, c).data(STATE_ROLE))
            for c in range(model.columnCount())]


def _add(qtbot: QtBot, wizard: MergeWizard, search: str) -> None:
    pick = wizard.pick
    pick.search.clear()
    with qtbot.waitSignal(pick.searched, timeout=30_000):
        qtbot.keyClicks(pick.search, search)
    assert pick.results_model.rowCount() == 1
    pick.results.selectRow(0)
    pick.add_button.click()


def test_merging_picked_accounts_end_to_end_and_undo(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        accounts: dict[str, str], session_for: Callable[..., Session],
        qtmodeltester: object) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    assert page.merge_accounts_button.isVisible() and page.suggested_button.isVisible()
    page.merge_accounts_button.click()
    wizard = page.merge_wizard
    assert isinstance(wizard, MergeWizard)
    wait_idle(qtbot, runner)

    # Step 1: pick. The second account added first, then made the absorbed one.
    _add(qtbot, wizard, "alex.morgan1")
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # one is not a merge
    _add(qtbot, wizard, "alex.morgan@north")
    chosen = wizard.pick.chosen_model
    assert [r.login_id for r in chosen.records] == [SECOND, MAIN]
    wizard.pick.chosen.selectRow(1)
    wizard.pick.survivor_button.click()
    assert [r.login_id for r in chosen.records] == [MAIN, SECOND]
    assert chosen.index(0, 0).data() == "Survivor (kept)"
    qtmodeltester.check(chosen)  # type: ignore[attr-defined]
    qtmodeltester.check(wizard.pick.results_model)  # type: ignore[attr-defined]

    # Step 2: the preview, side by side; the survivor gains the UK Link role.
    with qtbot.waitSignal(wizard.preview.planned, timeout=30_000):
        _next(wizard)
    model = wizard.preview.model
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert model.columnCount() == 3
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(3)] == [
        "Survivor", "Absorbed (1)", "Result"]
    assert _cells(model, "Login ID")[2] == (MAIN, "plain")
    assert _cells(model, "UKLINK roles") == [("—", "plain"), ("submitter", "plain"),
                                             ("submitter", GAINED)]
    assert _cells(model, "DES roles")[2] == ("viewer", "plain")
    assert wizard.preview.conflicts.isHidden()
    assert "gains UKLINK:submitter" in wizard.preview.notes.text()
    wait_idle(qtbot, runner)

    # Step 3: confirm, with a reason.
    _next(wizard)
    assert wizard.currentId() == CONFIRM
    assert wizard.confirm.summary.text().startswith(f"Merge {SECOND} into {MAIN}.")
    assert wizard.button(QWizard.WizardButton.NextButton).text() == "&Merge"
    qtbot.keyClicks(wizard.confirm.reason, "One person, confirmed with their manager")

    # Step 4: the result.
    with qtbot.waitSignal(wizard.merged, timeout=30_000):
        _next(wizard)
    wait_idle(qtbot, runner)
    assert wizard.currentId() == RESULT
    result = wizard.result_page
    assert result.outcome.text().startswith(f"Merged: {MAIN} now carries the roles of 2")
    survivor = get_identity(ctx, SYSTEM, accounts[MAIN])
    assert set(survivor.entitlements) == {("DES", "viewer"), ("UKLINK", "submitter")}
    assert get_identity(ctx, SYSTEM, accounts[SECOND]).subject == accounts[MAIN]  # an alias
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    qtbot.waitUntil(lambda: page.model.row_of(accounts[SECOND]) is None, timeout=30_000)

    # Undo, from the result page.
    assert result.undo_button.isVisible()
    with qtbot.waitSignal(wizard.unmerged, timeout=30_000):
        result.undo_button.click()
    wait_idle(qtbot, runner)
    assert shown.confirmations[-1].startswith("Undo this merge?")
    assert result.outcome.text().startswith(f"Undone: {MAIN} and {SECOND} are separate")
    assert get_identity(ctx, SYSTEM, accounts[SECOND]).subject == accounts[SECOND]
    assert set(get_identity(ctx, SYSTEM, accounts[MAIN]).entitlements) == {("DES", "viewer")}
    qtbot.waitUntil(lambda: page.model.row_of(accounts[SECOND]) is not None, timeout=30_000)
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: page.merge_wizard is None, timeout=10_000)
    assert shown.errors == [] and shown.internal == []


def test_conflicts_are_highlighted_and_settled_in_the_preview(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        accounts: dict[str, str], session_for: Callable[..., Session]) -> None:
    session = session_for("platform_admin")
    page = _page(qtbot, ctx, session, runner)
    # Merge with an admin account of the same person: organisations differ, and
    # platform_admin and security_reviewer are kept apart by policy.
    admin = session.operator.subject
    wizard = page.open_merge(survivor=admin, others=(accounts[ELSEWHERE],))
    with qtbot.waitSignal(wizard.preview.planned, timeout=30_000):
        pass  # a preset names every account: the wizard goes straight to the preview
    wait_idle(qtbot, runner)
    assert wizard.currentId() == PREVIEW
    preview, model = wizard.preview, wizard.preview.model
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    assert not next_button.isEnabled()
    organisation = _cells(model, "Organisation")
    assert organisation == [("XOS", CONFLICT), ("BRWS", CONFLICT), ("Choose below", CONFLICT)]
    gatehouse = _cells(model, "GATEHOUSE roles")
    assert [state for _text, state in gatehouse] == [CONFLICT] * 3
    assert "different organisations" in preview.conflicts.text()
    assert "separation of duties" in preview.conflicts.text()
    assert preview.org_choice.isVisibleTo(preview) and len(preview.role_choices) == 1

    with qtbot.waitSignal(preview.planned, timeout=30_000):
        preview.choose_organisation("XOS")
    wait_idle(qtbot, runner)
    assert _cells(model, "Organisation")[2] == ("XOS", "plain")
    assert not next_button.isEnabled()  # the roles are still to settle
    with qtbot.waitSignal(preview.planned, timeout=30_000):
        preview.choose_role("GATEHOUSE:platform_admin")
    wait_idle(qtbot, runner)
    assert preview.conflicts.isHidden()
    assert "not kept: security_reviewer" in _cells(model, "GATEHOUSE roles")[2][0]
    assert preview.org_choice.isVisibleTo(preview)  # a settled choice stays to change
    assert next_button.isEnabled()
    _next(wizard)
    with qtbot.waitSignal(wizard.merged, timeout=30_000):
        _next(wizard)
    wait_idle(qtbot, runner)
    merged = get_identity(ctx, SYSTEM, admin)
    assert ("GATEHOUSE", "security_reviewer") not in merged.entitlements
    assert merged.org_code == "XOS"
    assert shown.errors == [] and shown.internal == []


def test_a_merge_over_a_concurrent_change_is_refused_and_planned_again(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        accounts: dict[str, str], session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    wizard = page.open_merge(survivor=accounts[MAIN], others=(accounts[SECOND],))
    with qtbot.waitSignal(wizard.preview.planned, timeout=30_000):
        pass
    wait_idle(qtbot, runner)
    _next(wizard)
    rename_identity(ctx, SYSTEM, accounts[SECOND], 1, "Alex", "Morgan-Lee")  # someone else
    _next(wizard)
    wait_idle(qtbot, runner)
    result = wizard.result_page
    assert result.outcome.text().startswith("Nothing was merged: The account "
                                            f"{SECOND} was changed by someone else")
    assert get_identity(ctx, SYSTEM, accounts[SECOND]).subject == accounts[SECOND]
    assert result.back_button.isVisible() and result.undo_button.isHidden()

    with qtbot.waitSignal(wizard.preview.planned, timeout=30_000):
        result.back_button.click()
    wait_idle(qtbot, runner)
    assert wizard.currentId() == PREVIEW
    assert _cells(wizard.preview.model, "Name")[1][0] == "Alex Morgan-Lee"  # read afresh
    _next(wizard)
    with qtbot.waitSignal(wizard.merged, timeout=30_000):
        _next(wizard)
    wait_idle(qtbot, runner)
    assert get_identity(ctx, SYSTEM, accounts[SECOND]).subject == accounts[MAIN]
    assert shown.errors == [] and shown.internal == []


def test_suggested_merges_list_scores_and_reasons_and_opens_the_wizard(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        accounts: dict[str, str], session_for: Callable[..., Session],
        qtmodeltester: object) -> None:
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    with qtbot.waitSignal(page.dialog_opened, timeout=10_000) as opened:
        page.suggested_button.click()
    dialog = opened.args[0]
    assert isinstance(dialog, SuggestedMergesDialog)
    qtbot.waitUntil(lambda: dialog.model.rowCount() > 0, timeout=30_000)
    wait_idle(qtbot, runner)
    qtmodeltester.check(dialog.model)  # type: ignore[attr-defined]
    model = dialog.model
    row = next(r for r in range(model.rowCount())
               if SECOND in model.index(r, 1).data() and MAIN in model.index(r, 1).data())
    score = model.index(row, 0).data()
    assert score.endswith("%") and 0 < int(score[:-1]) <= 100
    assert model.index(row, 3).data().startswith("Numbered login ID")
    assert dialog.status.text().endswith("suggested merges.") or \
        dialog.status.text().endswith("suggested merge.")

    dialog.table.selectRow(row)
    with qtbot.waitSignal(page.dialog_opened, timeout=10_000) as opened:
        dialog.review_button.click()
    wizard = opened.args[0]
    assert isinstance(wizard, MergeWizard)
    with qtbot.waitSignal(wizard.preview.planned, timeout=30_000):
        pass
    wait_idle(qtbot, runner)
    assert [r.login_id for r in wizard.pick.chosen_model.records] == [MAIN, SECOND]
    _next(wizard)
    with qtbot.waitSignal(wizard.merged, timeout=30_000):
        _next(wizard)
    wait_idle(qtbot, runner)
    # The suggestion it settled leaves the list.
    assert all(SECOND not in model.index(r, 1).data() for r in range(model.rowCount()))
    assert shown.errors == [] and shown.internal == []


def test_merged_aliases_are_listed_on_request_and_a_merge_is_undone_from_the_history(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        accounts: dict[str, str], session_for: Callable[..., Session],
        qtmodeltester: object) -> None:
    session = session_for("platform_admin")
    merge(ctx, session.operator, plan_merge(ctx, session.operator, MAIN, [SECOND]))
    page = _page(qtbot, ctx, session, runner)
    assert page.model.row_of(accounts[SECOND]) is None
    with qtbot.waitSignal(page.index_loaded, timeout=30_000):
        page.show_deleted.setChecked(True)
    row = page.model.row_of(accounts[SECOND])
    assert row is not None
    assert page.model.index(row, 0).data(STATUS_ROLE) == "merged"
    assert page.model.index(row, 3).data() == "Merged (alias)"

    # Selecting the alias shows the identity it belongs to now, and says so.
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        page.select_subject(accounts[SECOND])
    panel = page.panel
    assert panel.detail is not None and panel.detail.subject == accounts[MAIN]
    assert panel.merged_note.isVisible() and panel.merged_note.text().startswith(
        f"{SECOND} was merged into this identity")

    with qtbot.waitSignal(page.dialog_opened, timeout=10_000) as opened:
        panel.merge_history_button.click()
    history = opened.args[0]
    assert isinstance(history, MergeHistoryDialog)
    with qtbot.waitSignal(history.loaded, timeout=30_000):
        pass
    qtmodeltester.check(history.model)  # type: ignore[attr-defined]
    assert history.model.rowCount() == 1
    assert history.model.index(0, 2).data() == SECOND
    with qtbot.waitSignal(history.unmerged, timeout=30_000):
        history.undo_button.click()
    with qtbot.waitSignal(history.loaded, timeout=30_000):
        pass
    wait_idle(qtbot, runner)
    assert shown.confirmations[-1].startswith(f"Undo the merge of {SECOND} into {MAIN}?")
    assert history.model.index(0, 3).data().startswith("20")  # undone, when and by whom
    assert not history.undo_button.isEnabled()
    assert get_identity(ctx, SYSTEM, accounts[SECOND]).subject == accounts[SECOND]
    history.reject()
    wait_idle(qtbot, runner)
    assert shown.errors == [] and shown.internal == []
