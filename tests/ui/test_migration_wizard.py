"""The migration wizard (issue 5, acceptance 5): a generated legacy export driven through
every step to the summary; Cancel during the run and Resume end in the same state as an
uninterrupted run; the rejected-rows filter; merges decided one by one and in bulk."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from policies.migration_policy import MigrationPolicy, load_migration_policy
from services.auth import Session
from services.authz import SYSTEM
from services.clock import ManualClock
from services.context import Context, open_context
from services.migration import run as run_module
from services.migration.legacy_export import write_export_file
from services.migration.plan import build_plan, decide, load_plan, sign_off
from services.migration.tracking import run_status
from services.setup import ensure_company
from services.store.schema import (
    entitlement,
    identity,
    legacy_account,
    migration_identity,
    organisation,
    outbox,
    reset_token,
)
from tests.ui.conftest import Alerts, save_screenshot, wait_idle
from ui import migration_files
from ui.migration_wizard import (
    MAPPING,
    MERGES,
    RUN,
    SIGN_OFF,
    SUMMARY,
    VALIDATION,
    MigrationWizard,
)
from ui.task_runner import TaskRunner

POLICY = Path(__file__).resolve().parents[2] / "policies" / "migration.toml"
USERS = 400
REAL_RUN = run_module.run_migration  # before any test replaces it
BATCH = 60  # several batches from a few hundred rows, so a run can stop between two


@pytest.fixture
def policy(tmp_path: Path) -> MigrationPolicy:
    text, replaced = re.subn(r"(?m)^batch_size = [0-9_]+", f"batch_size = {BATCH}",
                             POLICY.read_text(encoding="utf-8"))
    assert replaced == 1
    path = tmp_path / "migration.toml"
    path.write_text(text, encoding="utf-8")
    return load_migration_policy(path)


@pytest.fixture
def export(tmp_path: Path, policy: MigrationPolicy) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / "legacy-users.csv"
    write_export_file(path, users=USERS, seed=20_260_115, policy=policy)
    return path


class Ticker(QObject):
    """Counts timer ticks: the GUI thread's event loop is running while it counts."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.timer = QTimer(self)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        self.count += 1


def counts(ctx: Context) -> dict[str, int]:
    """What a run adds to a store, table by table (and identities by status)."""
    with ctx.store.read() as conn:
        out = {table.name: int(conn.execute(select(func.count()).select_from(table))
                               .scalar_one())
               for table in (identity, entitlement, legacy_account, migration_identity,
                             organisation, outbox)}
        out["open_migration_tokens"] = int(conn.execute(
            select(func.count()).select_from(reset_token).where(
                reset_token.c.purpose == "migration", reset_token.c.used_at.is_(None),
                reset_token.c.revoked_at.is_(None))).scalar_one())
        for status, n in conn.execute(select(identity.c.status, func.count())
                                      .group_by(identity.c.status)):
            out[f"identity:{status}"] = int(n)
    return out


def added(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    change = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(before) | set(after))}
    return {k: v for k, v in change.items() if v}


def _next(wizard: MigrationWizard) -> None:
    button = wizard.button(QWizard.WizardButton.NextButton)
    assert button.isVisible() and button.isEnabled()
    button.click()


def _commit(wizard: MigrationWizard) -> None:
    button = wizard.button(QWizard.WizardButton.CommitButton)
    assert button.isVisible() and button.isEnabled()
    button.click()


def _open(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner,
          policy: MigrationPolicy, export: Path, monkeypatch: pytest.MonkeyPatch
          ) -> MigrationWizard:
    monkeypatch.setattr(migration_files, "ask_source", lambda _parent, _start="": export)
    wizard = MigrationWizard(ctx, session.operator, runner, policy=policy)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    return wizard


def _to_sign_off(qtbot: QtBot, wizard: MigrationWizard, export: Path, shots: Path | None,
                 qtmodeltester: Any) -> None:
    """Choose → mapping → validation → merges (one by one, then in bulk) → sign-off page."""
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # no file yet
    wizard.choose.browse_button.click()
    assert wizard.choose.path.text() == str(export)
    if shots:
        save_screenshot(wizard, "migration_1_choose", shots)

    with qtbot.waitSignal(wizard.mapping.loaded, timeout=30_000):
        _next(wizard)
    assert wizard.currentId() == MAPPING
    mapping = wizard.mapping
    assert mapping.preview is not None
    assert "CSV, delimiter comma (,)" in mapping.detected.text()
    assert "encoding utf-8" in mapping.detected.text()
    fields = {mapping.mapping_model.value(r, "column"): mapping.mapping_model.value(r, "field")
              for r in range(mapping.mapping_model.rowCount())}
    assert "Login ID (e-mail)" in fields.values() and "Roles" in fields.values()
    assert mapping.sample_model.rowCount() == 8
    assert mapping.sample_model.COLUMNS[0] == "Row" and mapping.sample_model.COLUMNS[-1] == "Check"
    assert mapping.sample_model.value(0, "row") == 1
    qtmodeltester.check(mapping.mapping_model)
    qtmodeltester.check(mapping.sample_model)
    if shots:
        save_screenshot(wizard, "migration_2_mapping", shots)

    with qtbot.waitSignal(wizard.validation.planned, timeout=60_000):
        _next(wizard)
    assert wizard.currentId() == VALIDATION
    plan = wizard.plan
    assert plan is not None and plan["counts"]["rows"]["total"] >= USERS
    page = wizard.validation
    rejected = plan["counts"]["rows"]["rejected"]
    assert rejected > 0 and page.rejected_model.rowCount() == rejected
    assert f"{rejected:,} rows rejected" in page.totals.text()
    assert page.org_model.rowCount() == len(plan["organisations"])
    qtmodeltester.check(page.rejected_model)
    qtmodeltester.check(page.rejected_filter)
    qtmodeltester.check(page.org_model)
    qtmodeltester.check(page.outcome_model)
    # The filter: by reason, then by text.
    reason, expected = max(plan["counts"]["rejected_by_reason"].items(), key=lambda kv: kv[1])
    page.choose_reason(reason)
    shown = page.rejected_filter.rowCount()
    assert 0 < shown < rejected or shown == expected
    assert shown == sum(1 for r in plan["rejected"] if reason in r["reasons"])
    assert f"{shown:,} of {rejected:,} shown" == page.shown.text()
    one = next(r for r in plan["rejected"] if reason in r["reasons"] and r["legacy_id"])
    qtbot.keyClicks(page.search, one["legacy_id"])
    assert 1 <= page.rejected_filter.rowCount() < shown
    page.search.clear()
    page.choose_reason(None)
    assert page.rejected_filter.rowCount() == rejected
    if shots:
        save_screenshot(wizard, "migration_3_validation", shots)

    _next(wizard)
    assert wizard.currentId() == MERGES
    merges = wizard.merges
    suggested = plan["suggested_merges"]
    assert len(suggested) >= 3 and merges.model.rowCount() == len(suggested)
    qtmodeltester.check(merges.model)
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # undecided
    merges.table.selectRow(0)
    merges.confirm_button.click()
    merges.table.selectRow(1)
    merges.reject_button.click()
    assert [s["decision"] for s in suggested[:2]] == ["confirmed", "rejected"]
    assert merges.model.value(0, "decision_text") == "confirm: merge"
    if shots:
        save_screenshot(wizard, "migration_4_merges", shots)
    merges.reject_all_button.click()  # the rest, in bulk; the two decided ones stay
    assert [s["decision"] for s in suggested[:2]] == ["confirmed", "rejected"]
    assert all(s["decision"] == "rejected" for s in suggested[2:])
    assert not merges.reject_all_button.isEnabled()
    assert "All" in merges.status.text()

    _next(wizard)
    assert wizard.currentId() == SIGN_OFF
    sign = wizard.sign_off
    assert not wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    assert sign.plan_path.text() == str(export.with_name("legacy-users.plan.json"))
    with qtbot.waitSignal(sign.signed, timeout=30_000):
        sign.sign_button.click()
    written = load_plan(export.with_name("legacy-users.plan.json"))
    assert written["sign_off"]["digest"] and written["sign_off"]["by"] == wizard.operator.login_id
    assert [s["decision"] for s in written["suggested_merges"][:2]] == ["confirmed", "rejected"]
    assert "Signed off by" in sign.outcome.text()
    if shots:
        save_screenshot(wizard, "migration_5_sign_off", shots)


def uninterrupted(tmp_path: Path, clock: ManualClock, policy: MigrationPolicy, export: Path,
                  decisions: dict[str, str]) -> dict[str, int]:
    """What the same export and decisions add to a fresh store in one run (the CLI's calls)."""
    other = open_context(f"sqlite:///{tmp_path / 'uninterrupted.db'}", clock=clock)
    try:
        ensure_company(other)
        before = counts(other)
        plan = build_plan(other, SYSTEM, export, policy)
        decide(plan, SYSTEM, other.now(),
               confirm=[k for k, v in decisions.items() if v == "confirmed"],
               reject=[k for k, v in decisions.items() if v == "rejected"])
        sign_off(plan, SYSTEM, other.now())
        summary = REAL_RUN(other, SYSTEM, plan, export, policy=policy)
        assert summary.status == "done" and not summary.cancelled
        return added(before, counts(other))
    finally:
        other.close()


def test_wizard_runs_an_export_end_to_end_to_the_summary(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        session_for: Callable[..., Session], policy: MigrationPolicy, export: Path,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qtmodeltester: Any) -> None:
    session = session_for("platform_admin")
    wizard = _open(qtbot, ctx, session, runner, policy, export, monkeypatch)
    _to_sign_off(qtbot, wizard, export, tmp_path, qtmodeltester)
    before = counts(ctx)
    plan = wizard.plan
    assert plan is not None

    with qtbot.waitSignal(wizard.summary.reported, timeout=60_000):
        _commit(wizard)  # runs; a finished run goes straight on to the summary
    assert wizard.currentId() == SUMMARY
    summary = wizard.run_page.summary
    assert summary is not None and summary.status == "done"
    assert summary.created == plan["counts"]["identities"]["create"]
    assert summary.merged == 1  # the one suggestion confirmed
    change = added(before, counts(ctx))
    # The counts in the plan equal those in the store after the run (acceptance 1).
    assert change["migration_identity"] == plan["counts"]["identities"]["create"]
    assert change.get("identity:disabled", 0) == plan["counts"]["identities"]["disabled"]
    assert change["open_migration_tokens"] == plan["counts"]["identities"]["active"] - 1
    page = wizard.summary
    assert f"{summary.created:,} identities created" in page.outcome.text()
    assert page.model.rowCount() == len(plan["organisations"])
    qtmodeltester.check(page.model)
    assert sum(page.model.value(r, "migrated") for r in range(page.model.rowCount())) \
        == summary.created - summary.merged
    assert not wizard.button(QWizard.WizardButton.BackButton).isVisible()
    save_screenshot(wizard, "migration_7_summary", tmp_path)

    # The report, both ways; values that look like formulas are neutralised in the CSV.
    for kind, button in (("csv", page.csv_button), ("html", page.html_button)):
        target = tmp_path / f"report.{kind}"
        monkeypatch.setattr(migration_files, "ask_save",
                            lambda _p, _t, _d, _f, target=target: target)
        with qtbot.waitSignal(page.exported, timeout=30_000):
            button.click()
        text = target.read_text(encoding="utf-8")
        assert ("section,row,line" in text) if kind == "csv" else ("<h2>Merges</h2>" in text)
    assert page.saved.text() == "Saved report.html."
    wait_idle(qtbot, runner)
    assert shown.errors == [] and shown.internal == []


def test_cancel_during_the_run_then_resume_ends_as_an_uninterrupted_run(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner, shown: Alerts,
        session_for: Callable[..., Session], policy: MigrationPolicy, export: Path,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qtmodeltester: Any) -> None:
    # The first batch's progress waits until the test has pressed Cancel, so the run is
    # caught mid-way whatever the machine's speed.
    reached, release = threading.Event(), threading.Event()
    real_run = run_module.run_migration

    def held_run(*args: Any, progress: Any = None, **kwargs: Any) -> Any:
        def report(done: int, total: int) -> None:
            progress(done, total)
            if not reached.is_set():
                reached.set()
                release.wait(30)
        return real_run(*args, progress=report, **kwargs)

    monkeypatch.setattr(run_module, "run_migration", held_run)
    session = session_for("platform_admin")
    wizard = _open(qtbot, ctx, session, runner, policy, export, monkeypatch)
    _to_sign_off(qtbot, wizard, export, None, qtmodeltester)
    plan = wizard.plan
    assert plan is not None
    before = counts(ctx)
    ticker = Ticker()

    _commit(wizard)
    assert wizard.currentId() == RUN
    qtbot.waitUntil(reached.is_set, timeout=30_000)
    # Mid-run, the window stays responsive: the event loop keeps ticking.
    ticks = ticker.count
    qtbot.waitUntil(lambda: ticker.count >= ticks + 5, timeout=5_000)
    page = wizard.run_page
    assert page.running and page.cancel_button.isVisible()
    assert not wizard.button(QWizard.WizardButton.CancelButton).isEnabled()
    assert not wizard.button(QWizard.WizardButton.BackButton).isEnabled() \
        or not wizard.button(QWizard.WizardButton.BackButton).isVisible()
    qtbot.waitUntil(lambda: page.bar.value() > 0, timeout=5_000)
    save_screenshot(wizard, "migration_6_run", tmp_path)
    page.cancel_button.click()
    with qtbot.waitSignal(page.stopped, timeout=30_000):
        release.set()
    wait_idle(qtbot, runner)
    assert page.resume_button.isVisible() and not page.running
    assert "Stopped after 1 of" in page.status.text()
    assert wizard.button(QWizard.WizardButton.CancelButton).isEnabled()
    [run] = [r for r in run_status(ctx, session.operator) if r["plan_id"] == plan["plan_id"]]
    assert run["status"] == "cancelled" and run["batches_done"] == 1
    assert run["batches_total"] > 2
    partial = added(before, counts(ctx))
    assert partial["migration_identity"] == BATCH  # one whole batch, nothing half-written
    save_screenshot(wizard, "migration_6_stopped", tmp_path)

    with qtbot.waitSignal(wizard.summary.reported, timeout=60_000):
        page.resume_button.click()
    assert wizard.currentId() == SUMMARY
    summary = page.summary
    assert summary is not None and summary.status == "done"
    assert summary.batches_now == run["batches_total"] - 1  # resumed, not restarted
    decisions = {s["id"]: s["decision"] for s in plan["suggested_merges"]}
    assert added(before, counts(ctx)) == uninterrupted(tmp_path, clock, policy, export,
                                                       decisions)
    wait_idle(qtbot, runner)
    assert shown.errors == [] and shown.internal == []


def test_an_export_that_cannot_be_read_says_why_and_goes_no_further(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        session_for: Callable[..., Session], policy: MigrationPolicy, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    wizard = _open(qtbot, ctx, session_for("platform_admin"), runner, policy, empty,
                   monkeypatch)
    wizard.choose.browse_button.click()
    with qtbot.waitSignal(wizard.mapping.loaded, timeout=30_000):
        _next(wizard)
    assert "empty.csv is empty" in wizard.mapping.error.text()
    assert wizard.mapping.error.isVisible()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wait_idle(qtbot, runner)


@pytest.fixture(autouse=True)
def _no_stray_dialogs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a file dialog would have opened")

    monkeypatch.setattr(migration_files, "ask_save", refuse)
    yield
