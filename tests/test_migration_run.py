"""The migration run on a known export, through the services, on each backend: what it
creates (identities, entitlements, legacy accounts, one reset code and one notice each, MFA
requirement for LSOs), confirmed merges through the merge engine, idempotence, cancel and
resume, a changed source refused — and tracking to completion with reminders, by moving the
clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from policies.migration_policy import MigrationPolicy, load_migration_policy
from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.errors import PermissionDenied
from services.mail.outbox import read_body
from services.migration.plan import PlanRefused, build_plan, decide, sign_off
from services.migration.run import run_migration
from services.migration.tracking import (
    MAX_REMINDERS,
    completion,
    remind,
    run_status,
    totals,
)
from services.reset import complete_reset
from services.store.schema import (
    audit_event,
    entitlement,
    identity,
    legacy_account,
    metadata,
    mfa_account,
    migration_batch,
    migration_identity,
    outbox,
    product,
    reset_token,
)
from tests.test_migration_plan import ROWS, export

TABLES = ("identity", "entitlement", "legacy_account", "migration_identity", "migration_batch",
          "reset_token", "outbox", "audit_event", "merge_record", "mfa_account", "organisation")
NEW_PASSWORD = "a long and quite new passphrase 2026"


def small_policy(tmp_path: Path, batch_size: int) -> MigrationPolicy:
    source = Path(__file__).resolve().parents[1] / "policies" / "migration.toml"
    body = re.sub(r"batch_size = \d+", f"batch_size = {batch_size}", source.read_text())
    path = tmp_path / "migration.toml"
    path.write_text(body)
    return load_migration_policy(path)


def counts(ctx: Context) -> dict[str, int]:
    with ctx.store.read() as conn:
        return {name: int(conn.execute(select(func.count()).select_from(
            metadata.tables[name])).scalar_one()) for name in TABLES}


def signed_plan(ctx: Context, admin: Operator, source: Path, policy: MigrationPolicy,
                confirm: Callable[[dict[str, Any]], bool] = lambda s: False) -> dict[str, Any]:
    plan = build_plan(ctx, admin, source, policy)
    decide(plan, admin, ctx.now(), confirm=[s["id"] for s in plan["suggested_merges"]
                                            if confirm(s)])
    decide(plan, admin, ctx.now(), reject_all=True)
    sign_off(plan, admin, ctx.now())
    return plan


def alex_suffix(suggestion: dict[str, Any]) -> bool:
    return any(k.startswith("alex.morgan1@") for k in suggestion["keys"])


def by_login(ctx: Context) -> dict[str, Any]:
    with ctx.store.read() as conn:
        return {r.login_id.split("@")[0]: r for r in conn.execute(select(identity))}


def roles_of(ctx: Context, subject: str) -> set[str]:
    with ctx.store.read() as conn:
        return {f"{p}:{r}" for p, r in conn.execute(
            select(product.c.code, entitlement.c.role)
            .join(product, product.c.id == entitlement.c.product_id)
            .where(entitlement.c.subject == subject))}


def token_for(ctx: Context, subject: str) -> str:
    with ctx.store.read() as conn:
        sealed = conn.execute(select(outbox.c.body_sealed).where(
            outbox.c.identity_subject == subject).order_by(outbox.c.id.desc())).scalars().first()
    assert sealed is not None
    match = re.search(r"--token=(\S+)", read_body(ctx, sealed))
    assert match is not None
    return match.group(1)


def outstanding(ctx: Context) -> dict[str, int]:
    """Usable migration reset codes per subject."""
    with ctx.store.read() as conn:
        return dict(conn.execute(
            select(reset_token.c.subject, func.count()).where(
                reset_token.c.purpose == "migration", reset_token.c.used_at.is_(None),
                reset_token.c.revoked_at.is_(None), reset_token.c.expires_at > ctx.now())
            .group_by(reset_token.c.subject)).all())


def test_run_creates_notifies_merges_and_is_idempotent(
        ctx: Context, make_person: Callable[..., Operator], tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    source = export(tmp_path)
    plan = signed_plan(ctx, admin, source, load_migration_policy(), alex_suffix)
    before = counts(ctx)

    summary = run_migration(ctx, admin, plan, source)

    assert summary.status == "done" and not summary.cancelled
    assert summary.created == plan["counts"]["identities"]["create"] == 7
    assert summary.merged == 1 and summary.merges_refused == 0
    people = by_login(ctx)
    # Exact duplicates folded in by the plan; the confirmed suffix variant merged by the engine.
    assert people["alex.morgan1"].status == "merged"
    assert people["alex.morgan1"].merged_into == people["alex.morgan"].subject
    assert roles_of(ctx, people["alex.morgan"].subject) == {
        "DES:viewer", "UKLINK:standard", "APIDEV:developer"}
    assert people["sam.patel"].status == "reset_required"
    assert people["pat.kerr"].status == "disabled"  # migrated disabled: no reset sent
    assert all(p.password_hash is None for p in people.values())  # no legacy hash carried
    after = counts(ctx)
    grew = {name: after[name] - before[name] for name in TABLES}
    assert grew["identity"] == 7 and grew["migration_identity"] == 7
    assert grew["legacy_account"] == plan["counts"]["rows"]["create"] + \
        plan["counts"]["rows"]["auto_merged"] == 10
    assert grew["merge_record"] == 1 and grew["migration_batch"] == 1
    # One code and one notice per person who must reset: not the merged alias, not pat.kerr.
    notified = {"alex.morgan", "sam.patel", "jo.reed", "kim.lowe", "k.lowe"}
    assert grew["reset_token"] == grew["outbox"] == len(notified) == summary.notices
    assert set(outstanding(ctx)) == {people[n].subject for n in notified}
    assert set(outstanding(ctx).values()) == {1}
    with ctx.store.read() as conn:
        kinds = conn.execute(select(outbox.c.kind, func.count()).group_by(outbox.c.kind)).all()
        enrol_by = conn.execute(select(mfa_account.c.enrol_by).where(
            mfa_account.c.subject == people["sam.patel"].subject)).scalar_one()
        lso_flag = conn.execute(select(migration_identity.c.requires_mfa).where(
            migration_identity.c.subject == people["sam.patel"].subject)).scalar_one()
        actions: dict[str, int] = dict(conn.execute(
            select(audit_event.c.action, func.count()).group_by(audit_event.c.action)).all())
    assert dict(kinds) == {"migration_reset": 5}
    assert lso_flag is True and enrol_by > ctx.now()  # the LSO must enrol MFA
    assert actions["migration.identity_create"] == 7 and actions["migration.batch"] == 1
    assert actions["identity.merge"] == 1
    assert "Alex" in read_body(ctx, _first_body(ctx, people["alex.morgan"].subject))
    with ctx.store.read() as conn:
        assert ctx.audit.verify(conn).ok

    again = run_migration(ctx, admin, plan, source)
    assert again.already_done and counts(ctx) == after  # a completed plan changes nothing
    # The same export planned anew: every legacy id is already migrated.
    second = signed_plan(ctx, admin, source, load_migration_policy())
    assert second["counts"]["identities"]["already_migrated"] == 7
    rerun = run_migration(ctx, admin, second, source)
    assert rerun.created == 0 and rerun.skipped == 7
    grown = counts(ctx)
    assert {k: grown[k] - after[k] for k in TABLES if grown[k] != after[k]} == {
        "migration_batch": 1, "audit_event": 3}  # its run: start, one batch, done
    status = {r["plan_id"]: r for r in run_status(ctx, admin)}
    assert status[plan["plan_id"]]["outcomes"] == {"created": 7, "linked": 0, "skipped": 0,
                                                   "merged_away": 1}
    assert status[plan["plan_id"]]["batches_done"] == status[plan["plan_id"]][
        "batches_total"] == 1


def _first_body(ctx: Context, subject: str) -> str:
    with ctx.store.read() as conn:
        return str(conn.execute(select(outbox.c.body_sealed).where(
            outbox.c.identity_subject == subject)).scalar_one())


def test_unsigned_edited_or_changed_source_is_refused(
        ctx: Context, make_person: Callable[..., Operator], tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    reviewer = make_person("security_reviewer")
    source = export(tmp_path)
    policy = load_migration_policy()
    unsigned = build_plan(ctx, admin, source, policy)
    with pytest.raises(PlanRefused, match="not been signed off"):
        run_migration(ctx, admin, unsigned, source)
    plan = signed_plan(ctx, admin, source, policy)
    with pytest.raises(PermissionDenied):
        run_migration(ctx, reviewer, plan, source)
    edited = {**plan, "counts": {**plan["counts"], "rows": {}}}
    with pytest.raises(PlanRefused, match="changed after it was signed off"):
        run_migration(ctx, admin, edited, source)
    source.write_bytes(source.read_bytes().replace(b"Morgan", b"Morgon", 1))
    before = counts(ctx)
    with pytest.raises(PlanRefused, match="has changed since the plan was made"):
        run_migration(ctx, admin, plan, source)
    assert counts(ctx) == before


def test_cancel_then_resume_equals_an_uninterrupted_run(
        ctx: Context, make_person: Callable[..., Operator], tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    source = export(tmp_path)
    policy = small_policy(tmp_path, batch_size=2)
    plan = signed_plan(ctx, admin, source, policy, alex_suffix)
    progress: list[tuple[int, int]] = []

    first = run_migration(ctx, admin, plan, source, policy=policy,
                          progress=lambda d, t: progress.append((d, t)),
                          cancelled=lambda: len(progress) >= 2)
    assert first.cancelled and first.status == "cancelled"
    assert first.batches_done == 2 < first.total_batches == 4
    with ctx.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(migration_identity)
                            ).scalar_one() == 4
        assert conn.execute(select(func.count()).select_from(migration_batch)).scalar_one() == 2

    rest = run_migration(ctx, admin, plan, source, policy=policy,
                         progress=lambda d, t: progress.append((d, t)))
    assert rest.status == "done" and rest.batches_now == 2 and rest.merged == 1
    assert progress == [(2, 7), (4, 7), (6, 7), (7, 7)]
    people = by_login(ctx)
    assert people["alex.morgan1"].merged_into == people["alex.morgan"].subject
    assert len(outstanding(ctx)) == 5 and set(outstanding(ctx).values()) == {1}
    with ctx.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(legacy_account)).scalar_one() == 10
        if ctx.store.backend == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


def test_progress_to_completion_and_rate_limited_reminders(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator],
        tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    reviewer = make_person("security_reviewer")
    source = export(tmp_path)
    plan = signed_plan(ctx, admin, source, load_migration_policy(), alex_suffix)
    run_migration(ctx, admin, plan, source)
    people = by_login(ctx)

    def table() -> dict[tuple[str, str], tuple[int, int, int, int, int]]:
        return {(r.organisation, r.size_band): (r.migrated, r.completed, r.pending, r.expired,
                                                r.disabled) for r in completion(ctx, reviewer)}

    # NWGS (large): alex.morgan pending, pat.kerr disabled; the merged alias is not counted.
    # TYNE (medium): sam.patel (moved there by the org conflict's default), jo.reed, kim.lowe,
    # k.lowe.
    assert table() == {("NWGS", "large"): (2, 0, 1, 0, 1), ("TYNE", "medium"): (4, 0, 4, 0, 0)}
    complete_reset(ctx, token_for(ctx, people["kim.lowe"].subject), NEW_PASSWORD)
    assert table()[("TYNE", "medium")] == (4, 1, 3, 0, 0)
    assert remind(ctx, admin).reminded == 0  # nothing expired yet

    expiry = ctx.identity_policy.reset_expiry["migration"]
    clock.advance(expiry + timedelta(minutes=1))
    assert table() == {("NWGS", "large"): (2, 0, 0, 1, 1), ("TYNE", "medium"): (4, 1, 0, 3, 0)}
    assert totals(completion(ctx, reviewer))["expired"] == 4
    with pytest.raises(PermissionDenied):
        remind(ctx, reviewer)
    old_token = token_for(ctx, people["jo.reed"].subject)
    first = remind(ctx, admin)
    assert (first.reminded, first.rate_limited, first.remaining_expired) == (4, 0, 0)
    assert table() == {("NWGS", "large"): (2, 0, 1, 0, 1), ("TYNE", "medium"): (4, 1, 3, 0, 0)}
    waiting = {people[n].subject for n in ("alex.morgan", "sam.patel", "jo.reed", "k.lowe")}
    assert outstanding(ctx) == dict.fromkeys(waiting, 1)  # the old codes were revoked
    new_token = token_for(ctx, people["jo.reed"].subject)
    assert new_token != old_token
    assert remind(ctx, admin).reminded == 0  # the new codes are still valid
    with pytest.raises(Exception, match="not valid"):
        complete_reset(ctx, old_token, NEW_PASSWORD)
    complete_reset(ctx, new_token, NEW_PASSWORD)
    assert table()[("TYNE", "medium")] == (4, 2, 2, 0, 0)

    for round_no in range(2, MAX_REMINDERS + 2):
        clock.advance(expiry + timedelta(minutes=1))
        result = remind(ctx, admin)
        if round_no <= MAX_REMINDERS:
            assert (result.reminded, result.rate_limited) == (3, 0)
        else:  # the fourth time: rate-limited, left to the LSO or service desk
            assert (result.reminded, result.rate_limited) == (0, 3)
    with ctx.store.read() as conn:
        reminders = dict(conn.execute(select(migration_identity.c.subject,
                                             migration_identity.c.reminders)).all())
        events = conn.execute(select(func.count()).select_from(audit_event).where(
            audit_event.c.action == "migration.remind")).scalar_one()
        queued = conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.kind == "migration_reminder")).scalar_one()
    assert reminders[people["alex.morgan"].subject] == MAX_REMINDERS
    assert reminders[people["jo.reed"].subject] == 1
    assert events == queued == 4 + 3 * (MAX_REMINDERS - 1)


def test_report_is_injection_safe_and_escaped(
        ctx: Context, make_person: Callable[..., Operator], tmp_path: Path) -> None:
    from services.migration.report import build_report, csv_text, html_text

    admin = make_person("platform_admin")
    hostile = [["=HYPERLINK(\"x\")", "eve.hart@northwind-gas-shipping.example", "Eve", "Hart",
                "NWGS", "DES_RO", "A", ""],
               ["<script>x</script>", "ivy.nash@northwind-gas-shipping.example", "Ivy",
                "Nash", "NWGS", "DES_RO", "A", ""]]
    source = export(tmp_path, [*ROWS, *hostile])
    plan = signed_plan(ctx, admin, source, load_migration_policy(), alex_suffix)
    assert build_report(ctx, admin, plan).run_status == "not run"
    run_migration(ctx, admin, plan, source)
    report = build_report(ctx, admin, plan)

    assert report.run_status == "done"
    assert len(report.rejected) == plan["counts"]["rows"]["rejected"] == 12
    assert {r["row"] for r in report.rejected} >= {len(ROWS) + 1, len(ROWS) + 2}
    merges = {(m["kind"], m["survivor"].split("@")[0]): m for m in report.merges}
    assert merges[("exact_duplicate", "alex.morgan")]["applied"] is True
    suffix = next(m for m in report.merges if m["accounts"].startswith("alex.morgan1@"))
    assert suffix["decision"] == "confirmed" and suffix["applied"] is True
    nwgs = next(o for o in report.organisations if o["organisation"] == "NWGS")
    assert (nwgs["planned"], nwgs["migrated"], nwgs["merged_away"], nwgs["disabled"]) == (
        3, 2, 1, 1)
    table = csv_text(report)
    assert "'=HYPERLINK" in table and ",=HYPERLINK" not in table
    page = html_text(report)
    assert "<script>x" not in page and "&lt;script&gt;x" in page
