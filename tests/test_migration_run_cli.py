"""The migration run as an admin runs it, in subprocesses, on each backend: the whole path
from ``demo-data legacy`` to ``migrate status`` with the plan's counts found in the store
(acceptance 1); a completed plan run again changes nothing and a changed source is refused
(acceptance 4); and the kill test (acceptance 2): SIGKILL at random moments of a large run,
resume each time, and end in exactly the state of an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from services.store.schema import (
    audit_event,
    entitlement,
    identity,
    legacy_account,
    merge_record,
    metadata,
    migration_batch,
    migration_identity,
    organisation,
    outbox,
    product,
    reset_token,
)
from tests.conftest import Call, Cli, CliResult, backend_of

ADMIN = ("platform.admin@xoserve.example", "correct horse battery staple migrates")


def ok(result: CliResult) -> Any:
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return json.loads(result.out)


def refused(result: CliResult, fragment: str) -> None:
    assert result.code == 2, (result.code, result.err)
    assert len(result.err.splitlines()) == 1 and fragment in result.err, result.err


def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                    for name, table in metadata.tables.items()}
    finally:
        engine.dispose()


def prepare(cli: Cli, db: str, tmp_path: Path, users: int, seed: int,
            confirm: int | None) -> tuple[Path, dict[str, Any]]:
    """An export, an initialised store and a signed-off plan (``confirm`` suggestions
    confirmed: all when None, the rest rejected)."""
    source, plan_path = tmp_path / "legacy.csv", tmp_path / "plan.json"
    made, created = cli.many(
        ("demo-data", "legacy", "--users", str(users), "--seed", str(seed), "--out",
         str(source), "--json"),
        Call(("--db", db, "init", "--admin", ADMIN[0], "--json"), stdin=ADMIN[1] + "\n"))
    ok(made)
    ok(created)
    cli.operator = ADMIN
    ok(cli("--db", db, "migrate", "plan", str(source), "--out", str(plan_path), "--json"))
    plan = json.loads(plan_path.read_text())
    ids = [s["id"] for s in plan["suggested_merges"]]
    chosen = ids if confirm is None else ids[:confirm]
    if chosen:
        ok(cli("--db", db, "migrate", "decide", str(plan_path), "--confirm", *chosen, "--json"))
    ok(cli("--db", db, "migrate", "decide", str(plan_path), "--reject-all", "--json"))
    ok(cli("--db", db, "migrate", "sign-off", str(plan_path), "--json"))
    return plan_path, json.loads(plan_path.read_text())


def state(url: str) -> dict[str, Any]:
    """Everything a migration decides, keyed by login ID (subject ids differ between stores)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            login = dict(conn.execute(select(identity.c.subject, identity.c.login_id)).all())
            people = {r.login_id: (r.email, r.given_name, r.family_name, r.code, r.status,
                                   login.get(r.merged_into), r.password_hash is None)
                      for r in conn.execute(
                          select(identity, organisation.c.code)
                          .join(organisation, organisation.c.id == identity.c.organisation_id)
                          .join(migration_identity,
                                migration_identity.c.subject == identity.c.subject))}
            roles = sorted((login[s], p, r) for s, p, r in conn.execute(
                select(entitlement.c.subject, product.c.code, entitlement.c.role)
                .join(product, product.c.id == entitlement.c.product_id)
                .join(migration_identity,
                      migration_identity.c.subject == entitlement.c.subject)))
            legacy = sorted((r.legacy_id, login[r.subject], r.source_row)
                            for r in conn.execute(select(legacy_account)))
            merges = sorted((login[r.survivor], tuple(sorted(login[s] for s in
                                                             json.loads(r.absorbed))))
                            for r in conn.execute(select(merge_record)))
            usable = Counter(login[s] for (s,) in conn.execute(
                select(reset_token.c.subject).where(
                    reset_token.c.purpose == "migration", reset_token.c.used_at.is_(None),
                    reset_token.c.revoked_at.is_(None))))
            mails = Counter(login[s] for (s,) in conn.execute(
                select(outbox.c.identity_subject).where(outbox.c.kind == "migration_reset")))
            events: dict[str, int] = dict(conn.execute(
                select(audit_event.c.action, func.count())
                .where(audit_event.c.action.like("migration.%")
                       | (audit_event.c.action == "identity.merge"))
                .group_by(audit_event.c.action)).all())
            batches = conn.execute(select(func.count()).select_from(migration_batch)
                                   ).scalar_one()
    finally:
        engine.dispose()
    return {"people": people, "roles": roles, "legacy": legacy, "merges": merges,
            "usable_tokens": usable, "mails": mails, "batches": batches,
            "events": {k: v for k, v in events.items()
                       if k not in ("migration.run_start", "migration.run_cancel",
                                    "migration.sign_off")}}


def check_invariants(found: dict[str, Any]) -> None:
    waiting = {k for k, v in found["people"].items() if v[4] == "reset_required"}
    # Exactly one outstanding migration code per person who must reset; one e-mail each.
    assert set(found["usable_tokens"]) == waiting
    assert set(found["usable_tokens"].values()) == {1}
    assert set(found["mails"].values()) == {1} and set(found["mails"]) == waiting
    assert all(v[6] for v in found["people"].values())  # no password hash carried over
    assert found["events"]["migration.identity_create"] == len(found["people"])


def test_end_to_end_plan_counts_equal_store_counts(db_url: str, cli: Cli, tmp_path: Path,
                                                   secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(ADMIN[1])
    plan_path, plan = prepare(cli, db_url, tmp_path, users=2000, seed=4, confirm=None)
    # The plan's identities, beside it: the run reads them instead of the export.
    identities = (tmp_path / "plan.identities.tsv").read_bytes()
    assert hashlib.sha256(identities).hexdigest() == plan["derivation"]["digest"]
    assert identities.count(b"\n") == plan["derivation"]["identities"]
    before = table_counts(db_url)
    summary = ok(cli("--db", db_url, "migrate", "run", str(plan_path), "--json"))
    status = ok(cli("--db", db_url, "migrate", "status", "--json"))
    after = table_counts(db_url)

    counts, ids = plan["counts"], plan["counts"]["identities"]
    suggested = counts["suggested_merges"]
    assert summary["status"] == "done" and summary["created"] == ids["create"]
    assert summary["merged"] + summary["merges_refused"] + summary["merges_skipped"] \
        == suggested
    grew = {k: after[k] - before[k] for k in after}
    assert grew["migration_identity"] == grew["identity"] == ids["create"]
    assert grew["legacy_account"] == counts["rows"]["create"] + counts["rows"]["auto_merged"]
    assert grew["merge_record"] == summary["merged"]
    assert grew["migration_batch"] == summary["total_batches"] == 1
    assert grew["reset_token"] == grew["outbox"] == summary["notices"]
    found = state(db_url)
    check_invariants(found)
    statuses = Counter(v[4] for v in found["people"].values())
    absorbed = sum(len(a) for _s, a in found["merges"])
    assert statuses["merged"] == absorbed and statuses["disabled"] <= ids["disabled"]
    assert statuses["reset_required"] + statuses["merged"] + statuses["disabled"] \
        == ids["create"]
    assert len(found["roles"]) > ids["create"]  # every identity has at least one role
    per_org = Counter(v[3] for v in found["people"].values())
    assert per_org == Counter({o["code"]: o["create"] for o in plan["organisations"]
                               if o["create"]})
    (run,) = status["runs"]
    assert run["plan_id"] == plan["plan_id"] and run["status"] == "done"
    assert run["batches_done"] == run["batches_total"] == 1
    assert run["outcomes"]["created"] == ids["create"]
    assert run["outcomes"]["merged_away"] == absorbed

    progress, report, monthly = cli.many(
        ("--db", db_url, "migrate", "progress", "--json"),
        ("--db", db_url, "migrate", "report", str(plan_path), "--csv",
         str(tmp_path / "report.csv"), "--html", str(tmp_path / "report.html"), "--json"),
        ("--db", db_url, "migrate", "progress", "--by-month", "--json"),
        operator=ADMIN)
    assert ok(progress)["totals"]["pending"] == summary["notices"]
    months = ok(monthly)["months"]
    assert sum(m["migrated"] for m in months) == ok(progress)["totals"]["migrated"]
    assert ok(report)["rejected"] == counts["rows"]["rejected"]
    csv_text = (tmp_path / "report.csv").read_text()
    assert csv_text.startswith("section,row,line,legacy_id")
    assert "<script" not in (tmp_path / "report.html").read_text()

    again = cli("--db", db_url, "migrate", "run", str(plan_path))
    assert again.code == 0 and "already run to completion; nothing changed" in again.out
    assert table_counts(db_url) == after
    source = tmp_path / "legacy.csv"
    source.write_bytes(source.read_bytes() + b"\r\n")
    refused(cli("--db", db_url, "migrate", "run", str(plan_path)), "has changed")
    assert table_counts(db_url) == after


def test_kill_at_random_moments_and_resume(db_url: str, cli: Cli, tmp_path: Path,
                                          another_store_url: Any,
                                          secrets_to_scan: set[str]) -> None:
    """SIGKILL a run at >= 10 random moments (chosen as time offsets, from before the first
    batch to the merge phase), resume each time; the end state equals an uninterrupted run's,
    and SQLite's integrity check passes after kills."""
    secrets_to_scan.add(ADMIN[1])
    sqlite = backend_of(db_url) == "sqlite"
    # Enough batches (policies/migration.toml run.batch_size) that every attempt killed after
    # one of its batches still has batches left to be killed in.
    users, kills_wanted = (50_000, 10) if sqlite else (40_000, 6)
    plan_path, plan = prepare(cli, db_url, tmp_path, users=users, seed=11,
                              confirm=120 if sqlite else 20)
    reference = another_store_url()
    ok(cli("--db", reference, "init", "--admin", ADMIN[0], "--json", stdin=ADMIN[1] + "\n",
           operator=None))

    # The uninterrupted run, timed: when its first batch lands and when it ends.
    started = time.monotonic()
    proc = cli.popen("--db", reference, "migrate", "run", str(plan_path), "--json")
    assert proc.stderr is not None
    first_batch = None
    for line in proc.stderr:
        if first_batch is None and line.startswith("Migrated"):
            first_batch = time.monotonic() - started
    proc.wait(timeout=300)
    total = time.monotonic() - started
    assert proc.returncode == 0 and first_batch is not None
    expected = state(reference)
    check_invariants(expected)

    rng = random.Random(20261129)
    step = max((total - first_batch) / 8, 0.3)
    kills = 0
    while kills < kills_wanted:
        proc = cli.popen("--db", db_url, "migrate", "run", str(plan_path), "--json")
        assert proc.stderr is not None
        if kills % 2 == 0:  # before the first batch of this attempt: reading, starting
            time.sleep(rng.uniform(0.2, 0.9 * first_batch))
        else:  # once this attempt has committed a batch: mid-batch or in the merge phase
            for line in proc.stderr:
                if line.startswith("Migrated"):
                    break
            time.sleep(rng.uniform(0.0, step))
        assert proc.poll() is None, "the run ended before its kill point"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        kills += 1
        if sqlite and kills % 4 == 0:
            assert integrity(db_url) == "ok"
    resumed = ok(cli("--db", db_url, "migrate", "run", str(plan_path), "--json"))
    assert resumed["status"] == "done"
    assert kills >= kills_wanted, f"only {kills} kills landed during the run"
    if sqlite:
        assert integrity(db_url) == "ok"
    found = state(db_url)
    check_invariants(found)
    assert found == expected
    assert ok(cli("--db", db_url, "migrate", "status", "--json"))["runs"][0]["status"] == "done"
    assert plan["counts"]["identities"]["create"] == len(found["people"])


def integrity(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("PRAGMA integrity_check")).scalar_one())
    finally:
        engine.dispose()


def test_ctrl_c_stops_after_the_batch_in_hand_and_the_run_resumes(
        db_url: str, cli: Cli, tmp_path: Path, secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(ADMIN[1])
    # Three batches at least (policies/migration.toml run.batch_size): the interrupt, sent once
    # the first is in, lands while the second is written.
    plan_path, plan = prepare(cli, db_url, tmp_path, users=25_000, seed=5, confirm=0)
    proc = cli.popen("--db", db_url, "migrate", "run", str(plan_path), "--json")
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        if line.startswith("Migrated"):  # the first batch is in: the handler is installed
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    stopped = json.loads(out)
    assert stopped["cancelled"] and stopped["status"] == "cancelled"
    assert 1 <= stopped["batches_done"] < stopped["total_batches"]
    assert "run the same command again to resume" in err
    (run,) = ok(cli("--db", db_url, "migrate", "status", "--json"))["runs"]
    assert run["status"] == "cancelled" and run["batches_done"] == stopped["batches_done"]

    resumed = ok(cli("--db", db_url, "migrate", "run", str(plan_path), "--json"))
    assert resumed["status"] == "done"
    assert resumed["batches_now"] == resumed["total_batches"] - stopped["batches_done"]
    found = state(db_url)
    check_invariants(found)
    assert len(found["people"]) == plan["counts"]["identities"]["create"]
