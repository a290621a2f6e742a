"""The synthetic legacy export: deterministic for a seed, with the rates it promises."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from policies.migration_policy import load_migration_policy
from services.authz import SYSTEM
from services.errors import InvalidInput
from services.migration.legacy_export import HEADER, write_export, write_export_file
from services.migration.plan import build_plan


def _text(**options: object) -> str:
    out = io.StringIO(newline="")
    write_export(out, **options)  # type: ignore[arg-type]
    return out.getvalue()


def test_same_seed_same_bytes_and_another_seed_differs() -> None:
    first = _text(users=3000, seed=11)
    assert first == _text(users=3000, seed=11)
    assert first != _text(users=3000, seed=12)
    assert first.startswith(",".join(HEADER) + "\r\n")


def test_rates_are_exact_and_every_kind_appears() -> None:
    out = io.StringIO(newline="")
    summary = write_export(out, users=10_000, seed=5)
    data = summary.as_dict()
    assert data["rows"] == 10_000
    assert data["duplicate_rows"] == 800  # 8 %
    assert data["broken_rows"] == 200  # 2 %
    assert set(summary.duplicates) == {"exact", "case_variant", "numeric_suffix",
                                       "other_organisation", "disabled_copy"}
    assert len(summary.broken) == 8 and min(summary.broken.values()) > 5
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert len(rows) == 10_000
    assert len({r[0] for r in rows}) == 10_000  # legacy ids unique
    policy = load_migration_policy()
    # Organisations of every type and size band appear, as do disabled accounts.
    codes = {r[4] for r in rows}
    assert {policy.organisations[c].type for c in codes if c in policy.organisations} >= {
        "shipper", "supplier", "gt", "igt"}
    assert {r[7] for r in rows} >= {"D", "Disabled", "INACTIVE", "A"}
    assert any("LSO" in r[6] for r in rows)


def test_every_broken_row_is_rejected_by_the_plan_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    summary = write_export_file(path, users=5000, seed=3)
    plan = build_plan(None, SYSTEM, path, load_migration_policy())
    assert plan["counts"]["rows"]["rejected"] == summary.as_dict()["broken_rows"] == 100
    assert set(plan["counts"]["rejected_by_reason"]) == {
        "missing_email", "invalid_email", "unknown_organisation", "unknown_role",
        "control_characters", "formula", "too_long", "confusable_email"}


def test_json_lines_export_holds_the_same_rows(tmp_path: Path) -> None:
    as_csv = list(csv.reader(io.StringIO(_text(users=500, seed=9))))[1:]
    lines = _text(users=500, seed=9, fmt="jsonl").splitlines()
    assert [list(json.loads(line).values()) for line in lines] == as_csv


def test_bad_options_are_refused_with_a_sentence() -> None:
    with pytest.raises(InvalidInput, match="between 1 and"):
        _text(users=0, seed=1)
    with pytest.raises(InvalidInput, match="csv or jsonl"):
        _text(users=10, seed=1, fmt="xml")
