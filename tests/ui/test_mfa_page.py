"""The MFA page (issue 6): the numbers shown are the coverage report's on a seeded population,
filters, reset with a reason, campaigns and reminders, read-only reviewers, LSO scope, and the
table models under Qt's model tester."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from services.auth import Session, complete_sign_in, sign_in
from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.mfa.admin import reset_mfa
from services.mfa.campaign import coverage_report
from services.mfa.errors import CodeRejected, MfaLocked
from services.store.schema import audit_event
from tests.conftest import enrol_verified
from tests.ui.conftest import PASSWORD, save_screenshot, wait_idle
from ui.appearance import RESOURCES
from ui.mfa_campaign_dialog import CampaignRequest, MfaCampaignDialog
from ui.mfa_page import MfaPage
from ui.reason_dialog import ReasonDialog
from ui.task_runner import TaskRunner


def _seed(ctx: Context, clock: ManualClock, make_person: Callable[..., Operator],
          admin: Operator, secrets_to_scan: set[str]) -> dict[str, Operator]:
    """LSOs in two organisations, one in each status of the report."""
    people: dict[str, Operator] = {}
    people["overdue"] = make_person("lso", org="SGN", password=PASSWORD)
    sign_in(ctx, people["overdue"].login_id, PASSWORD)  # the grace period starts
    clock.advance(timedelta(days=15))  # and is over
    for status, org in (("enrolled", "NWGS"), ("locked", "SGN"), ("reset", "SGN")):
        people[status] = make_person("lso", org=org, password=PASSWORD)
        seen: set[str] = set()
        enrol_verified(ctx, sign_in(ctx, people[status].login_id, PASSWORD), seen)
        secrets_to_scan.update(seen)
    people["pending"] = make_person("lso", org="NWGS", password=PASSWORD)
    people["enrolled2"] = make_person("lso", org="NWGS", password=PASSWORD)
    enrol_verified(ctx, sign_in(ctx, people["enrolled2"].login_id, PASSWORD), secrets_to_scan)
    clock.advance(timedelta(seconds=60))
    for _ in range(5):
        session = sign_in(ctx, people["locked"].login_id, PASSWORD)
        with pytest.raises((CodeRejected, MfaLocked)):
            complete_sign_in(ctx, session, "000000")
    reset_mfa(ctx, admin, people["reset"].login_id, "phone lost")
    return people


def _page(qtbot: QtBot, ctx: Context, runner: TaskRunner, op: Operator) -> MfaPage:
    page = MfaPage(ctx, op, runner)
    page.setStyleSheet((RESOURCES / "style.qss").read_text(encoding="utf-8"))
    qtbot.addWidget(page)
    page.resize(1100, 760)
    page.show()
    page.activate()
    qtbot.waitUntil(lambda: page.report is not None, timeout=30_000)
    wait_idle(qtbot, runner)
    return page


def _cells(model: Any) -> list[list[str]]:
    return [[model.index(r, c).data() for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def test_numbers_match_the_coverage_report(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner,
        make_person: Callable[..., Operator], session_for: Callable[..., Session],
        secrets_to_scan: set[str], qtmodeltester: Any, tmp_path: Path) -> None:
    admin = session_for("platform_admin")
    _seed(ctx, clock, make_person, admin.operator, secrets_to_scan)
    page = _page(qtbot, ctx, runner, admin.operator)
    report = coverage_report(ctx, admin.operator)
    by_org = {c.org_code: c for c in report.organisations}
    # The seeded population, as the service counts it.
    assert (by_org["NWGS"].enrolled, by_org["NWGS"].pending) == (2, 1)
    assert (by_org["SGN"].overdue, by_org["SGN"].locked, by_org["SGN"].reset) == (1, 1, 1)
    assert by_org["SGN"].coverage_percent == pytest.approx(33.3)

    # The table shows exactly those numbers, organisation by organisation.
    shown = _cells(page.coverage_model)
    assert shown == [[c.org_name, str(c.total), str(c.enrolled),
                      str(c.pending), str(c.overdue), str(c.locked), str(c.reset),
                      f"{c.coverage_percent:.1f} %"] for c in report.organisations]
    assert page.chart.organisations == report.organisations
    assert "SGN: 33.3% of 3 with MFA" in page.chart.accessibleDescription()
    t = report.totals
    assert page.totals.text().startswith(
        f"{t.total} people targeted: {t.with_mfa} with two-step verification "
        f"({t.coverage_percent:.1f} %), {t.pending} pending, {t.overdue} overdue, "
        f"{t.locked} locked, {t.reset} reset.")
    assert page.people.rowCount() == len(report.rows)
    save_screenshot(page, "mfa_page", tmp_path)
    qtmodeltester.check(page.coverage_model)
    qtmodeltester.check(page.people_model)
    qtmodeltester.check(page.people)


def test_filters_show_overdue_and_locked_people(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner,
        make_person: Callable[..., Operator], session_for: Callable[..., Session],
        secrets_to_scan: set[str]) -> None:
    admin = session_for("platform_admin")
    people = _seed(ctx, clock, make_person, admin.operator, secrets_to_scan)
    page = _page(qtbot, ctx, runner, admin.operator)
    report = coverage_report(ctx, admin.operator)
    for status in ("overdue", "locked", "reset", "pending", "enrolled"):
        page.status_filter.setCurrentIndex(page.status_filter.findData(status))
        logins = sorted(page.people.index(r, 1).data() for r in range(page.people.rowCount()))
        assert logins == sorted(r.login_id for r in report.rows if r.status == status)
        assert f"({len(logins)} {status} shown)" in page.people_caption.text()
    page.status_filter.setCurrentIndex(page.status_filter.findData("overdue"))
    assert [page.people.index(0, 1).data()] == [people["overdue"].login_id]
    page.status_filter.setCurrentIndex(0)
    assert page.people.rowCount() == len(report.rows)


def test_reset_with_a_reason(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner,
        make_person: Callable[..., Operator], session_for: Callable[..., Session],
        secrets_to_scan: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    admin = session_for("platform_admin")
    people = _seed(ctx, clock, make_person, admin.operator, secrets_to_scan)
    page = _page(qtbot, ctx, runner, admin.operator)
    asked: list[str] = []

    def ask(cls: type, title: str, explanation: str, action: str, **_kw: object) -> str:
        asked.append(explanation)
        return "phone stolen, ticket 4711"

    monkeypatch.setattr(ReasonDialog, "ask", classmethod(ask))
    target = people["enrolled"].login_id
    row = next(r for r in range(page.people.rowCount())
               if page.people.index(r, 1).data() == target)
    assert not page.reset_button.isEnabled()  # nothing selected yet
    page.people_view.selectRow(row)
    assert page.reset_button.isEnabled()
    page.reset_button.click()
    qtbot.waitUntil(lambda: "was reset" in page.result.text(), timeout=30_000)
    wait_idle(qtbot, runner)
    assert target in asked[0]
    status = {r.login_id: r.status for r in coverage_report(ctx, admin.operator).rows}
    assert status[target] == "reset"
    with ctx.store.read() as conn:
        reasons = conn.execute(select(audit_event.c.reason).where(
            audit_event.c.action == "mfa.reset")).scalars().all()
    assert "phone stolen, ticket 4711" in reasons
    # One's own row cannot be reset (separation of duties).
    own = next(r for r in range(page.people.rowCount())
               if page.people.index(r, 1).data() == admin.operator.login_id)
    page.people_view.selectRow(own)
    assert not page.reset_button.isEnabled()


def test_start_a_campaign_and_send_reminders(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, make_person: Callable[..., Operator],
        session_for: Callable[..., Session], monkeypatch: pytest.MonkeyPatch) -> None:
    admin = session_for("platform_admin")
    make_person("lso", org="NWGS")
    make_person("lso", org="SGN")
    page = _page(qtbot, ctx, runner, admin.operator)
    assert not page.remind_button.isEnabled()  # no campaign chosen
    by = datetime(2031, 1, 1, tzinfo=UTC)
    offered: list[list[tuple[str, str]]] = []

    def ask(cls: type, organisations: list[tuple[str, str]], today: object,
            parent: object = None) -> CampaignRequest:
        offered.append(organisations)
        return CampaignRequest(role="lso", org_codes=("NWGS",), enrol_by=by)

    monkeypatch.setattr(MfaCampaignDialog, "ask", classmethod(ask))
    page.start_button.click()
    qtbot.waitUntil(lambda: "started" in page.result.text(), timeout=30_000)
    wait_idle(qtbot, runner)
    assert "NWGS" in [code for code, _name in offered[0]]
    assert "1 person must set up" in page.result.text()
    assert page.campaign.currentData() is not None
    assert page.report is not None and page.report.campaign_id == page.campaign.currentData()
    assert [r.org_code for r in page.report.rows] == ["NWGS"]
    assert page.remind_button.isEnabled()
    page.remind_button.click()
    qtbot.waitUntil(lambda: "outbox" in page.result.text(), timeout=30_000)
    assert page.result.text() == "1 reminder queued in the outbox."


def test_reviewers_read_only_and_lsos_see_their_organisation(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner,
        make_person: Callable[..., Operator], session_for: Callable[..., Session],
        secrets_to_scan: set[str]) -> None:
    admin = session_for("platform_admin")
    _seed(ctx, clock, make_person, admin.operator, secrets_to_scan)
    reviewer = _page(qtbot, ctx, runner, session_for("security_reviewer").operator)
    assert reviewer.reset_button.isHidden() and reviewer.start_button.isHidden()
    assert reviewer.remind_button.isHidden() and not reviewer.campaign.isHidden()
    assert {c.org_code for c in reviewer.coverage_model._records} == {"NWGS", "SGN", "XOS"}
    lso = session_for("lso", org="SGN").operator
    scoped = _page(qtbot, ctx, runner, lso)
    assert scoped.reset_button.isHidden() and scoped.campaign.isHidden()
    assert [c.org_code for c in scoped.coverage_model._records] == ["SGN"]
    assert {scoped.people.index(r, 2).data() for r in range(scoped.people.rowCount())} == {"SGN"}
