"""The Organisations and Audit pages, and their table models."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from services.audit_trail import recent_events
from services.auth import Session
from services.context import Context
from services.errors import PermissionDenied
from services.orgs import list_orgs
from services.store.schema import audit_event
from tests.ui.conftest import Alerts, wait_idle
from ui.add_org_dialog import AddOrgDialog
from ui.audit_model import AuditModel
from ui.audit_page import AuditPage
from ui.orgs_model import OrgsModel
from ui.orgs_page import OrgsPage
from ui.task_runner import TaskRunner


def _orgs_page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner) -> OrgsPage:
    page = OrgsPage(ctx, session.operator, runner)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.loaded, timeout=30_000):
        page.activate()
    return page


def test_admin_adds_an_organisation(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                    session_for: Callable[..., Session],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    page = _orgs_page(qtbot, ctx, session_for("platform_admin"), runner)
    assert [page.model.data(page.model.index(r, 0)) for r in range(page.model.rowCount())] \
        == ["XOS"]
    assert not page.add_button.isHidden()
    monkeypatch.setattr(AddOrgDialog, "ask",
                        classmethod(lambda cls, parent=None: ("TYNE", "Tyne Valley", "shipper")))
    with qtbot.waitSignal(page.loaded, timeout=30_000):
        page.add_button.click()
    rows = {page.model.data(page.model.index(r, 0)): page.model.data(page.model.index(r, 2))
            for r in range(page.model.rowCount())}
    assert rows == {"XOS": "Central data service provider", "TYNE": "Shipper"}


def test_adding_a_duplicate_shows_the_service_message(qtbot: QtBot, ctx: Context,
                                                      runner: TaskRunner, shown: Alerts,
                                                      session_for: Callable[..., Session],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    page = _orgs_page(qtbot, ctx, session_for("platform_admin"), runner)
    monkeypatch.setattr(AddOrgDialog, "ask",
                        classmethod(lambda cls, parent=None: ("XOS", "Again", "other")))
    page.add_button.click()
    wait_idle(qtbot, runner)
    assert shown.errors == ["An organisation with code 'XOS' already exists."]


def test_add_org_dialog_checks_in_place(qtbot: QtBot) -> None:
    dialog = AddOrgDialog()
    qtbot.addWidget(dialog)
    dialog.code.setText("x")
    dialog.name.setText("Somewhere")
    dialog.accept()
    assert dialog.result() != AddOrgDialog.DialogCode.Accepted
    assert "must be 2 to 16 letters or digits" in dialog.message.text()
    dialog.code.setText("sev2")
    dialog.accept()
    assert dialog.values == ("SEV2", "Somewhere", "shipper")


def test_reviewer_cannot_add_organisations(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                           session_for: Callable[..., Session]) -> None:
    page = _orgs_page(qtbot, ctx, session_for("security_reviewer"), runner)
    assert page.add_button.isHidden()
    assert page.model.rowCount() == 1


def test_orgs_model_passes_the_model_tester(qtmodeltester: object, ctx: Context,
                                            session_for: Callable[..., Session]) -> None:
    model = OrgsModel()
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    model.set_records(list_orgs(ctx, session_for("platform_admin").operator))
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert model.rowCount() == 1


def _audit_page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner) -> AuditPage:
    page = AuditPage(ctx, session.operator, runner)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.loaded, timeout=30_000):
        page.activate()
    return page


def test_audit_page_lists_and_verifies(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                       session_for: Callable[..., Session]) -> None:
    page = _audit_page(qtbot, ctx, session_for("security_reviewer"), runner)
    model = page.model
    seqs = [int(model.data(model.index(r, 0))) for r in range(model.rowCount())]
    assert seqs == sorted(seqs, reverse=True) and seqs[-1] == 1  # newest first
    assert model.data(model.index(0, 3)) == "signin"
    with qtbot.waitSignal(page.verified, timeout=30_000) as signal:
        page.verify_button.click()
    assert signal.args[0].ok
    assert page.result.text() == f"The audit trail is intact: {len(seqs)} events verified."
    assert page.result.property("tone") == "good"


def test_audit_page_reports_a_tampered_trail(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                             session_for: Callable[..., Session]) -> None:
    page = _audit_page(qtbot, ctx, session_for("platform_admin"), runner)
    with ctx.store.write() as conn:
        conn.execute(update(audit_event).where(audit_event.c.seq == 2)
                     .values(reason="nothing to see"))
    with qtbot.waitSignal(page.verified, timeout=30_000) as signal:
        page.verify()
    assert not signal.args[0].ok
    assert page.result.text().startswith("The audit trail is NOT intact at event 2:")
    assert page.result.property("tone") == "bad"


def test_audit_reading_needs_the_right(ctx: Context,
                                       session_for: Callable[..., Session]) -> None:
    with pytest.raises(PermissionDenied):
        recent_events(ctx, session_for("lso").operator)
    with pytest.raises(PermissionDenied):
        recent_events(ctx, session_for().operator)


def test_audit_model_passes_the_model_tester(qtmodeltester: object, ctx: Context,
                                             session_for: Callable[..., Session]) -> None:
    model = AuditModel()
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    events = recent_events(ctx, session_for("platform_admin").operator)
    model.set_records(events)
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert model.rowCount() == len(events) > 0
    assert "after" in (model.data(model.index(len(events) - 1, 0), 3) or "")  # tooltip role
