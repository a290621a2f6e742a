"""The Migration page (issue 5, tracking to completion): runs with their status, completion
per organisation and size band as a table and a chart — the very numbers of
``services.migration.tracking`` — and Send reminders for a platform admin only."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from policies.migration_policy import MigrationPolicy, load_migration_policy
from services.auth import Session
from services.authz import SYSTEM
from services.clock import ManualClock
from services.context import Context
from services.migration.legacy_export import write_export_file
from services.migration.plan import build_plan, decide, sign_off
from services.migration.run import run_migration
from services.migration.tracking import completion, run_status, totals
from services.store.schema import identity, migration_identity
from tests.ui.conftest import Alerts, save_screenshot, wait_idle
from ui.main_window import MainWindow
from ui.migration_page import MigrationPage
from ui.migration_wizard import MigrationWizard
from ui.task_runner import TaskRunner

POLICY = Path(__file__).resolve().parents[2] / "policies" / "migration.toml"


@pytest.fixture
def policy(tmp_path: Path) -> MigrationPolicy:
    text, replaced = re.subn(r"(?m)^batch_size = [0-9_]+", "batch_size = 100",
                             POLICY.read_text(encoding="utf-8"))
    assert replaced == 1
    path = tmp_path / "migration.toml"
    path.write_text(text, encoding="utf-8")
    return load_migration_policy(path)


def migrate(ctx: Context, tmp_path: Path, policy: MigrationPolicy, seed: int) -> None:
    """An export planned, decided, signed off and run, as ``migrate plan/decide/sign-off/run``."""
    export = tmp_path / f"legacy-{seed}.csv"
    write_export_file(export, users=150, seed=seed, policy=policy)
    plan = build_plan(ctx, SYSTEM, export, policy)
    decide(plan, SYSTEM, ctx.now(), reject_all=True)
    sign_off(plan, SYSTEM, ctx.now())
    assert run_migration(ctx, SYSTEM, plan, export, policy=policy).status == "done"


@pytest.fixture
def migrated(ctx: Context, clock: ManualClock, tmp_path: Path, policy: MigrationPolicy,
             make_person: Callable[..., object]) -> None:
    """Two runs a month apart (the first one's codes have expired), and a few people who have
    set their new password."""
    make_person()  # the company organisation
    migrate(ctx, tmp_path, policy, seed=11)
    clock.advance(timedelta(days=30))
    migrate(ctx, tmp_path, policy, seed=12)
    with ctx.store.write() as conn:
        done = [r[0] for r in conn.execute(
            select(migration_identity.c.subject).join(
                identity, identity.c.subject == migration_identity.c.subject)
            .where(identity.c.status == "reset_required").order_by(
                migration_identity.c.subject).limit(9))]
        conn.execute(update(identity).where(identity.c.subject.in_(done))
                     .values(status="active"))


def _page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner,
          policy: MigrationPolicy) -> MigrationPage:
    page = MigrationPage(ctx, session.operator, runner, policy=policy)
    qtbot.addWidget(page)
    page.resize(1180, 760)
    page.show()
    page.activate()
    wait_idle(qtbot, runner)
    return page


def _table(page: MigrationPage) -> list[dict[str, object]]:
    model = page.progress_model
    return [{k: model.value(r, k) for k in model.keys} for r in range(model.rowCount())]


def test_page_shows_tracking_numbers_and_sends_reminders(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts, migrated: None,
        session_for: Callable[..., Session], policy: MigrationPolicy, tmp_path: Path,
        qtmodeltester: object) -> None:
    session = session_for("platform_admin")
    op = session.operator
    page = _page(qtbot, ctx, session, runner, policy)
    assert page.start_button.isVisible() and page.remind_button.isVisible()

    rows = completion(ctx, op)
    assert _table(page) == [{k: r.as_dict()[k] for k in page.progress_model.keys}
                            for r in rows]
    assert page.chart.rows == rows
    sums = totals(rows)
    assert sums["completed"] == 9 and sums["pending"] > 0 and sums["expired"] > 0
    assert (f"{sums['completed']:,} of {sums['migrated']:,} migrated identities have set a "
            f"new password; {sums['pending']:,} pending, {sums['expired']:,} with an expired "
            "code") in page.totals.text()
    runs = run_status(ctx, op)
    assert page.runs_model.rowCount() == len(runs) == 2
    assert [page.runs_model.value(r, "created") for r in range(2)] == [
        r["outcomes"]["created"] for r in runs]
    assert page.runs_model.value(0, "status") == "done"
    qtmodeltester.check(page.progress_model)  # type: ignore[attr-defined]
    qtmodeltester.check(page.runs_model)  # type: ignore[attr-defined]
    assert f"{rows[0].organisation} ({rows[0].size_band})" in page.chart.accessibleDescription()
    save_screenshot(page, "migration_page", tmp_path)

    page.remind_button.click()
    assert shown.confirmations and f"({sums['expired']:,} now)" in shown.confirmations[0]
    wait_idle(qtbot, runner)
    qtbot.waitUntil(lambda: page.result.isVisible(), timeout=10_000)
    wait_idle(qtbot, runner)
    assert f"{sums['expired']:,} reminders queued" in page.result.text()
    after = completion(ctx, op)
    assert totals(after)["expired"] == 0
    assert _table(page) == [{k: r.as_dict()[k] for k in page.progress_model.keys}
                            for r in after]
    assert shown.errors == [] and shown.internal == []


def test_reviewer_reads_but_cannot_run_or_remind(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, migrated: None,
        session_for: Callable[..., Session], policy: MigrationPolicy) -> None:
    session = session_for("security_reviewer")
    page = _page(qtbot, ctx, session, runner, policy)
    assert not page.start_button.isVisible() and not page.remind_button.isVisible()
    assert page.progress_model.rowCount() == len(completion(ctx, session.operator)) > 0


def test_empty_store_says_so_and_the_wizard_opens_from_the_main_window(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, session_for: Callable[..., Session],
        tmp_path: Path) -> None:
    window = MainWindow(ctx, session_for("platform_admin"), runner)
    qtbot.addWidget(window)
    window.show()
    page = window.show_page("migration")
    assert isinstance(page, MigrationPage)
    wait_idle(qtbot, runner)
    assert page.totals.text().startswith("No migration has been run in this store yet.")
    assert page.chart.rows == []
    save_screenshot(page, "migration_page_empty", tmp_path)
    page.start_button.click()
    assert isinstance(page.wizard, MigrationWizard) and page.wizard.isVisible()
    page.wizard.reject()
    wait_idle(qtbot, runner)
    assert not page.wizard.isVisible()


def _stopped_run(ctx: Context, tmp_path: Path, policy: MigrationPolicy
                 ) -> tuple[Path, dict[str, Any]]:
    """A signed-off plan file beside its export, run for one batch and then cancelled."""
    from services.migration.plan import build_plan_with_identities, write_plan

    export = tmp_path / "legacy-stopped.csv"
    write_export_file(export, users=350, seed=21, policy=policy)
    plan, identities = build_plan_with_identities(ctx, SYSTEM, export, policy)
    decide(plan, SYSTEM, ctx.now(), reject_all=True)
    sign_off(plan, SYSTEM, ctx.now())
    plan_path = tmp_path / "legacy-stopped.plan.json"
    write_plan(plan_path, plan, identities)
    asked: list[int] = []

    def after_one_batch() -> bool:
        asked.append(1)
        return len(asked) > 1

    stopped = run_migration(ctx, SYSTEM, plan_path, export, policy=policy,
                            cancelled=after_one_batch)
    assert stopped.cancelled and stopped.batches_done == 1 < stopped.total_batches
    return plan_path, plan


def test_a_stopped_run_is_resumed_from_the_page_with_its_plan_file(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        session_for: Callable[..., Session], policy: MigrationPolicy, tmp_path: Path,
        make_person: Callable[..., object], monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import migration_files

    make_person()  # the company organisation
    plan_path, plan = _stopped_run(ctx, tmp_path, policy)
    session = session_for("platform_admin")
    page = _page(qtbot, ctx, session, runner, policy)
    assert page.runs_model.value(0, "status") == "stopped: resumable"
    assert page.resume_button.isVisible() and page.resume_button.isEnabled()
    save_screenshot(page, "migration_page_stopped_run", tmp_path)

    monkeypatch.setattr(migration_files, "ask_plan", lambda _parent: plan_path)
    monkeypatch.setattr(migration_files, "ask_source", lambda *_a: pytest.fail(
        "the export lies beside the plan: nothing to ask"))
    page.resume_button.click()
    qtbot.waitUntil(lambda: page.wizard is not None and page.wizard.isVisible(),
                    timeout=10_000)
    wizard = page.wizard
    assert wizard is not None and wizard.plan_path == plan_path
    qtbot.waitUntil(lambda: wizard.run_page.summary is not None, timeout=60_000)
    wait_idle(qtbot, runner)
    summary = wizard.run_page.summary
    assert summary is not None and summary.status == "done" and not summary.already_done
    assert 0 < summary.batches_now == summary.total_batches - 1
    (run,) = run_status(ctx, session.operator)
    assert run["status"] == "done" and run["batches_done"] == run["batches_total"]
    assert run["outcomes"]["created"] == plan["counts"]["identities"]["create"]
    assert 0 < summary.created < run["outcomes"]["created"]  # the first batch ran before
    wizard.accept()
    wait_idle(qtbot, runner)
    qtbot.waitUntil(lambda: page.runs_model.value(0, "status") == "done", timeout=10_000)
    assert not page.resume_button.isEnabled()
    assert shown.errors == [] and shown.internal == []


def test_resume_refuses_a_plan_that_has_not_run_here_or_is_done(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        session_for: Callable[..., Session], policy: MigrationPolicy, tmp_path: Path,
        make_person: Callable[..., object], monkeypatch: pytest.MonkeyPatch) -> None:
    from services.migration.plan import write_plan
    from ui import migration_files

    make_person()
    plan_path, _plan = _stopped_run(ctx, tmp_path, policy)
    session = session_for("platform_admin")
    page = _page(qtbot, ctx, session, runner, policy)

    other = tmp_path / "other.csv"
    write_export_file(other, users=40, seed=22, policy=policy)
    never = build_plan(ctx, SYSTEM, other, policy)
    sign_off(never, SYSTEM, ctx.now())
    never_path = tmp_path / "other.plan.json"
    write_plan(never_path, never)
    monkeypatch.setattr(migration_files, "ask_plan", lambda _parent: never_path)
    page.resume_button.click()
    wait_idle(qtbot, runner)
    assert shown.errors == ["other.plan.json has not been run in this store; start it with "
                            "New migration."]
    assert page.wizard is None and page.resume_button.isEnabled()

    assert run_migration(ctx, SYSTEM, plan_path, tmp_path / "legacy-stopped.csv",
                         policy=policy).status == "done"
    monkeypatch.setattr(migration_files, "ask_plan", lambda _parent: plan_path)
    page.resume_button.click()
    wait_idle(qtbot, runner)
    assert shown.errors[-1] == ("legacy-stopped.plan.json has already run to completion; "
                                "nothing is left to resume.")
    assert page.wizard is None
