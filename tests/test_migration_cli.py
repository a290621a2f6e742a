"""The migration CLI end to end: ``demo-data legacy`` writes an export, ``migrate plan`` plans
it (writing nothing to the store), ``migrate decide`` and ``migrate sign-off`` complete the plan
file — on each backend, in subprocesses, as an admin would run them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from tests.conftest import Call, Cli, CliResult

ADMIN = ("platform.admin@xoserve.example", "correct horse battery staple migrates")


def ok(result: CliResult) -> dict[str, Any]:
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def refused(result: CliResult, fragment: str) -> None:
    assert result.code == 2, (result.code, result.err)
    assert len(result.err.splitlines()) == 1 and fragment in result.err, result.err
    assert "Traceback" not in result.err


def identity_count(url: str) -> int:
    from services.store.schema import identity, legacy_account

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(identity)).scalar_one()
                       + conn.execute(select(func.count()).select_from(legacy_account)
                                      ).scalar_one())
    finally:
        engine.dispose()


def test_export_plan_decide_and_sign_off(db_url: str, cli: Cli, tmp_path: Path,
                                         secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(ADMIN[1])
    source, jsonl = tmp_path / "legacy.csv", tmp_path / "legacy.jsonl"
    plan_path = tmp_path / "plan.json"
    made, made_jsonl, created = cli.many(
        ("demo-data", "legacy", "--users", "2000", "--seed", "4", "--out", str(source),
         "--json"),
        ("demo-data", "legacy", "--users", "2000", "--seed", "4", "--out", str(jsonl),
         "--format", "jsonl", "--json"),
        Call(("--db", db_url, "init", "--admin", ADMIN[0], "--json"), stdin=ADMIN[1] + "\n"))
    summary = ok(made)
    assert summary["rows"] == 2000 and summary["duplicate_rows"] == 160
    assert summary["broken_rows"] == 40
    assert ok(made_jsonl)["rows"] == 2000
    ok(created)
    before = identity_count(db_url)

    cli.operator = ADMIN
    planned, planned_jsonl, no_operator = cli.many(
        ("--db", db_url, "migrate", "plan", str(source), "--out", str(plan_path), "--json"),
        ("--db", db_url, "migrate", "plan", str(jsonl), "--json"),
        Call(("--db", db_url, "migrate", "plan", str(source)), operator=None,
             extra_env={"GATEHOUSE_OPERATOR": ""}))
    plan = ok(planned)
    counts = plan["counts"]
    assert counts["rows"]["total"] == 2000
    assert counts["rows"]["rejected"] == 40  # every broken row, and only those
    assert counts["rows"]["create"] + counts["rows"]["auto_merged"] + \
        counts["rows"]["rejected"] == 2000
    assert counts["identities"]["lso"] >= len(plan["organisations"]) - 1
    assert plan["source"]["name"] == "legacy.csv" and str(tmp_path) not in planned.out
    assert json.loads(plan_path.read_text())["plan_id"] == plan["plan_id"]
    same = ok(planned_jsonl)  # the same people as JSON Lines: the same plan
    assert same["counts"] == counts and same["derivation"] == plan["derivation"]
    refused(no_operator, "GATEHOUSE_OPERATOR")
    assert identity_count(db_url) == before  # a plan writes nothing

    # One after the other: both read and write the plan file.
    refused(cli("--db", db_url, "migrate", "sign-off", str(plan_path)), "undecided")
    decided = cli("--db", db_url, "migrate", "decide", str(plan_path), "--reject-all", "--json")
    assert ok(decided) == {"changed": counts["suggested_merges"], "undecided": 0}
    signed = ok(cli("--db", db_url, "migrate", "sign-off", str(plan_path), "--json"))
    assert signed["by"] == ADMIN[0]
    assert json.loads(plan_path.read_text())["sign_off"] == signed
    refused(cli("--db", db_url, "migrate", "decide", str(plan_path), "--confirm-all"),
            "signed off")


def test_bad_exports_are_one_line_refusals(cli: Cli, db_url: str, tmp_path: Path,
                                           secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(ADMIN[1])
    ok(cli("--db", db_url, "init", "--admin", ADMIN[0], "--json", stdin=ADMIN[1] + "\n"))
    empty, garbage = tmp_path / "empty.csv", tmp_path / "garbage.bin"
    empty.write_bytes(b"")
    garbage.write_bytes(bytes(range(256)) * 64)
    cli.operator = ADMIN
    results = cli.many(("--db", db_url, "migrate", "plan", str(empty)),
                       ("--db", db_url, "migrate", "plan", str(garbage)),
                       ("--db", db_url, "migrate", "plan", str(tmp_path / "absent.csv")),
                       ("demo-data", "legacy", "--users", "0", "--out", str(tmp_path / "x")))
    for result, fragment in zip(results, ("is empty", "binary", "There is no file",
                                          "between 1 and"), strict=True):
        refused(result, fragment)
