"""Benchmark: the legacy migration. Prints one JSON object.

Measures, on a synthetic export from ``demo-data legacy`` (~8% duplicate accounts, ~2% broken
rows), targets from issue 5 in brackets:
- plan: validate, group and suggest merges for ``--rows`` rows against an SQLite store, and
  write the plan file and its identities file [100,000 rows <= 3 s]; their sizes; peak RSS of
  this process [<= 400 MB for the whole migration];
- run: the signed-off plan file (suggested merges rejected) loaded and run into the same SQLite
  store, as ``migrate run PLAN.json`` does [100,000 rows <= 8 s]; the same run without the
  identities file (the identities derived from the export again) into a fresh store; and the
  run against PostgreSQL (GATEHOUSE_BENCH_PG, else the local test server at 127.0.0.1:5432, in
  a database the bench creates and drops);
- floor: the same number of identity rows inserted with ``sqlite3.executemany`` in one
  transaction into the real schema, with SQLite's defaults otherwise, and the ratio run time
  / floor;
- merges: the merge phase on a smaller export with every suggested merge confirmed (merges go
  one by one through the merge engine), as milliseconds per merge;
- million (``--million``, opt-in): 1,000,000 rows run on SQLite [<= 10 x the 100,000 time],
  and the floor for that many identities, to show how raw inserts themselves grow.

The export is written by a child process (the CLI command itself), so the peak RSS reported
is the plan's own, not the generator's. It is read before the million-row part, which reports
its own (the million-row plan sets it).

    .venv/bin/python bench/migration.py [--rows N] [--seed S] [--repeat K] [--million]
                                        [--no-pg]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Never the developer's real keyring.
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.memory_keyring.MemoryKeyring"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

TARGET_PLAN_S = 3.0  # at 100,000 rows
TARGET_RUN_S = 8.0  # at 100,000 rows
LOCAL_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_PEAK_RSS_MB = 400.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def generate(path: Path, rows: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "main.py", "demo-data", "legacy", "--users", str(rows), "--seed",
         str(seed), "--out", str(path), "--json"],
        cwd=REPO, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    summary = json.loads(done.stdout)
    return {"seconds": round(time.perf_counter() - started, 2), "bytes": path.stat().st_size,
            "duplicate_rows": summary["duplicate_rows"], "broken_rows": summary["broken_rows"]}


def plan_phase(source: Path, store_url: str, repeat: int) -> dict[str, Any]:
    from policies.migration_policy import load_migration_policy
    from services.authz import SYSTEM
    from services.context import open_context
    from services.migration.plan import build_plan_with_identities, identities_path, write_plan
    from services.setup import ensure_company

    ctx = open_context(store_url)
    try:
        ensure_company(ctx)
        policy = load_migration_policy()
        timings = []
        plan: dict[str, Any] = {}
        out = source.with_name("plan.json")
        for _ in range(repeat):
            started = time.perf_counter()
            plan, identities = build_plan_with_identities(ctx, SYSTEM, source, policy)
            write_plan(out, plan, identities)
            timings.append(time.perf_counter() - started)
    finally:
        ctx.close()
    best = min(timings)
    rows = plan["counts"]["rows"]["total"]
    return {
        "rows": rows,
        "seconds_best": round(best, 3),
        "seconds_median": round(statistics.median(timings), 3),
        "rows_per_second": round(rows / best),
        "target_seconds_at_100k": TARGET_PLAN_S,
        "meets_target": best * 100_000 / max(rows, 1) <= TARGET_PLAN_S,
        "plan_file_bytes": out.stat().st_size,
        "identities_file_bytes": identities_path(out).stat().st_size,
        "batch_size": plan["policy"]["batch_size"],
        "counts": {"rows": plan["counts"]["rows"], "identities": plan["counts"]["identities"],
                   "suggested_merges": plan["counts"]["suggested_merges"],
                   "conflicts": plan["counts"]["conflicts"]},
    }


def sign(plan_path: Path, confirm: bool) -> Path:
    """Decide every suggested merge and sign the plan file off, as ``migrate decide`` and
    ``migrate sign-off`` do (its identities file stays beside it)."""
    from services.authz import SYSTEM
    from services.clock import SystemClock
    from services.migration.plan import decide, load_plan, sign_off, write_plan

    now = SystemClock().now()
    plan = load_plan(plan_path)
    decide(plan, SYSTEM, now, confirm_all=confirm, reject_all=not confirm)
    sign_off(plan, SYSTEM, now)
    write_plan(plan_path, plan)
    return plan_path


def run_phase(source: Path, store_url: str, plan_path: Path, *, identities: bool = True
              ) -> dict[str, Any]:
    """Load a signed-off plan file and run it into a store, as ``migrate run`` does; without
    ``identities`` the run derives the identities from the export again."""
    from services.authz import SYSTEM
    from services.context import open_context
    from services.migration.plan import identities_path, load_plan
    from services.migration.run import run_migration
    from services.setup import ensure_company

    ctx = open_context(store_url)
    try:
        ensure_company(ctx)
        started = time.perf_counter()
        plan = load_plan(plan_path)
        summary = run_migration(ctx, SYSTEM, plan, source, identities=identities_path(
            plan_path) if identities else None)
        seconds = time.perf_counter() - started
    finally:
        ctx.close()
    return {"rows": plan["counts"]["rows"]["total"], "seconds": round(seconds, 3),
            "identities_per_second": round(summary.created / seconds),
            "created": summary.created, "notices": summary.notices,
            "batches": summary.total_batches, "merged": summary.merged,
            "merge_seconds": summary.merge_seconds}


def plan_for(source: Path, store_url: str) -> Path:
    """The plan file (and its identities file) for ``source``, beside it."""
    from policies.migration_policy import load_migration_policy
    from services.authz import SYSTEM
    from services.context import open_context
    from services.migration.plan import build_plan_with_identities, write_plan
    from services.setup import ensure_company

    ctx = open_context(store_url)
    try:
        ensure_company(ctx)
        plan, identities = build_plan_with_identities(ctx, SYSTEM, source,
                                                      load_migration_policy())
    finally:
        ctx.close()
    path = source.with_name(f"{source.stem}-plan.json")
    write_plan(path, plan, identities)
    return path


def floor_phase(path: Path, rows: int) -> dict[str, Any]:
    """Identity rows straight into the real schema with sqlite3.executemany, one transaction."""
    import sqlite3
    import uuid

    from sqlalchemy import create_engine

    from services.store.schema import metadata

    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    data = [(str(uuid.uuid4()), f"person{n}@example.org", f"Person{n}@example.org", "Given",
             f"Family{n}", 1, "reset_required", "", 1, "2026-11-29 12:00:00.000000",
             "2026-11-29 12:00:00.000000") for n in range(rows)]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO identity (subject, login_id, email, given_name, family_name, "
            "organisation_id, status, flags, version, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)", data)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {"rows": rows, "seconds": round(seconds, 3)}


def pg_phase(source: Path, plan: Path) -> dict[str, Any]:
    import secrets

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(os.environ.get("GATEHOUSE_BENCH_PG") or LOCAL_PG)
    name = f"gatehouse_bench_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # no server: say so in the figures rather than fail the bench
        admin.dispose()
        return {"skipped": f"no PostgreSQL server reachable ({type(exc).__name__})"}
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        return run_phase(source, url, plan)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 rows")
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp:
        source = Path(tmp) / "legacy.csv"
        export = generate(source, args.rows, args.seed)
        store = f"sqlite:///{Path(tmp) / 'store.db'}"
        plan = plan_phase(source, store, args.repeat)
        plan_path = sign(source.with_name("plan.json"), confirm=False)
        run = run_phase(source, store, plan_path)
        run["target_seconds_at_100k"] = TARGET_RUN_S
        run["meets_target"] = run["seconds"] * 100_000 / max(run["rows"], 1) <= TARGET_RUN_S
        rederiving = run_phase(source, f"sqlite:///{Path(tmp) / 'store2.db'}", plan_path,
                               identities=False)
        run["seconds_without_identities_file"] = rederiving["seconds"]
        floor = floor_phase(Path(tmp) / "floor.db", run["created"])
        floor["ratio_run_to_floor"] = round(run["seconds"] / max(floor["seconds"], 1e-9), 1)
        postgres = None if args.no_pg else pg_phase(source, plan_path)

        small = Path(tmp) / "small.csv"
        generate(small, 10_000, args.seed)
        small_store = f"sqlite:///{Path(tmp) / 'small.db'}"
        merges = run_phase(small, small_store, sign(plan_for(small, small_store), True))
        merges["ms_per_merge"] = round(1000 * merges["merge_seconds"] / max(merges["merged"], 1),
                                       1)
        source.unlink()
        peak = peak_rss_mb()  # the 100,000-row migration's, before any million-row work
        million: dict[str, Any] = {"run": False}
        if args.million:
            big = Path(tmp) / "million.csv"
            generate(big, 1_000_000, args.seed)
            big_store = f"sqlite:///{Path(tmp) / 'million.db'}"
            million = {"run": True, **run_phase(big, big_store, sign(
                plan_for(big, big_store), confirm=False))}
            million["ratio_to_100k"] = round(million["seconds"] / run["seconds"], 1)
            million["meets_target"] = million["ratio_to_100k"] <= 10
            big_floor = floor_phase(Path(tmp) / "million-floor.db", million["created"])
            million["floor_seconds"] = big_floor["seconds"]
            million["floor_ratio_to_100k"] = round(big_floor["seconds"] / floor["seconds"], 1)
            million["peak_rss_mb"] = round(peak_rss_mb(), 1)  # the whole bench's, plan included
    print(json.dumps({
        "benchmark": "migration",
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "export": export,
        "plan": plan,
        "run": run,
        "floor": floor,
        "postgresql": postgres,
        "merges": merges,
        "million": million,
        "peak_rss_mb": round(peak, 1),
        "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
        "meets_peak_rss_target": peak <= TARGET_PEAK_RSS_MB,
    }))


if __name__ == "__main__":
    main()
