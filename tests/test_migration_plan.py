"""The migration plan (dry run): exact counts on a known export, automatic merges of exact
duplicates, suggested merges left undecided, conflicts, the store consulted but never written,
and a changed source file refused."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from policies.migration_policy import load_migration_policy
from services.authz import SYSTEM, Operator, Role
from services.context import Context
from services.errors import InvalidInput, PermissionDenied
from services.identity import normalise_email
from services.migration import plan as plan_module
from services.migration.addresses import fast_normalise
from services.migration.plan import (
    MAX_REJECTION_DETAILS,
    PlannedIdentity,
    PlanRefused,
    build_plan,
    build_plan_with_identities,
    check_source,
    decide,
    derive,
    identities_path,
    load_plan,
    planned_identities,
    read_identities,
    sign_off,
    write_plan,
)
from services.orgs import add_org
from services.store.schema import metadata
from services.users import add_identity

POLICY = load_migration_policy()
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
NW, BW, TV = ("northwind-gas-shipping.example", "brightwater-energy-supply.example",
              "tyne-valley-shippers.example")
HEADER = ["User ID", "Username", "First Name", "Last Name", "Org Short Code", "Roles", "Status",
          "Last Login"]
ROWS = [
    ["U1", f"alex.morgan@{NW}", "Alex", "Morgan", "NWGS", "DES_RO", "A", "2026-01-01"],
    ["U2", f" Alex.Morgan@{NW.upper()} ", "Alex", "Morgan", "NWGS", "UKL_STD", "Active", ""],
    ["U3", f"alex.morgan1@{NW}", "Alex", "Morgan", "NWGS", "API_DEV", "A", ""],
    ["U4", f"sam.patel@{BW}", "Sam", "Patel", "BRWS", "DES_STD;LSO", "A", "2026-02-01"],
    ["U5", f"sam.patel@{BW}", "Sam", "Patel", "TYNE", "UKL_RO", "A", "2026-05-01"],
    ["U6", f"jo.reed@{TV}", "Jo", "Reed", "TYNE", "DES_RO", "D", ""],
    ["U7", f"jo.reed@{TV}", "Jo", "Reed", "TYNE", "UKL_SUB", "A", ""],
    ["U8", f"kim.lowe@{TV}", "Kim", "Lowe", "TYNE", "DES_RO", "A", ""],
    ["U9", f"k.lowe@{TV}", "Kim", "Lowe", "TYNE", "UKL_RO|DES_RO", "A", ""],
    ["U10", "not-an-address", "Nat", "Ode", "TYNE", "DES_RO", "A", ""],  # invalid_email
    ["U11", f"lee.fox@{TV}", "Lee", "Fox", "ZZZZ", "DES_RO", "A", ""],  # unknown_organisation
    ["U12", f"ash.cole@{TV}", "Ash", "Cole", "TYNE", "DES_ADMIN", "A", ""],  # unknown_role
    ["U13", f"eve.hart@{NW}", "=cmd|'/C calc'!A0", "Hart", "NWGS", "DES_RO", "A", ""],  # formula
    ["U1", f"ron.vale@{NW}", "Ron", "Vale", "NWGS", "DES_RO", "A", ""],  # duplicate_legacy_id
    ["U15", f"\u0430lex.morgan@{NW}", "Alex", "Morgan", "NWGS", "DES_RO", "A", ""],  # confusable
    ["U16", "", "Ivy", "Nash", "BRWS", "DES_RO", "A", ""],  # missing_email
    ["U17", f"ben.roe@{BW}", "Ben", "Roe", "BRWS", "DES_RO", "Zombie", ""],  # unknown_status
    ["U18", f"pat.kerr@{NW}", "Pat", "Kerr", "NWGS", "DES_RO", "D", ""],
    ["U19", f"gil.ray@{NW}", "Gil\x07", "Ray", "NWGS", "DES_RO", "A", ""],  # control_characters
    ["U20", f"max.long@{NW}", "Max", "L" * 201, "NWGS", "DES_RO", "A", ""],  # too_long
]


def export(tmp_path: Path, rows: list[list[str]] = ROWS, name: str = "legacy.csv") -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    path = tmp_path / name
    path.write_bytes(out.getvalue().encode())
    return path


def by_org(plan: dict[str, Any], code: str) -> dict[str, Any]:
    return next(o for o in plan["organisations"] if o["code"] == code)


def test_counts_per_outcome_and_organisation_are_exact(tmp_path: Path) -> None:
    plan = build_plan(None, SYSTEM, export(tmp_path), POLICY)
    counts = plan["counts"]
    assert counts["rows"] == {"total": 20, "create": 7, "auto_merged": 3, "rejected": 10,
                              "already_migrated": 0, "collision": 0}
    assert counts["rejected_by_reason"] == {
        "invalid_email": 1, "unknown_organisation": 1, "unknown_role": 1, "formula": 1,
        "duplicate_legacy_id": 1, "confusable_email": 1, "missing_email": 1,
        "unknown_status": 1, "control_characters": 1, "too_long": 1}
    assert counts["identities"] == {"create": 7, "active": 6, "disabled": 1, "lso": 1,
                                    "already_migrated": 0, "collision": 0}
    assert counts["conflicts"] == {"org_mismatch": 1, "status_mixed": 1, "exists_in_store": 0}
    assert counts["rows_outside_scope"] == 1
    nwgs, brws, tyne = by_org(plan, "NWGS"), by_org(plan, "BRWS"), by_org(plan, "TYNE")
    assert (nwgs["rows"], nwgs["rejected"], nwgs["create"], nwgs["disabled"],
            nwgs["auto_merged_rows"]) == (9, 5, 3, 1, 1)
    assert (brws["rows"], brws["rejected"], brws["create"]) == (3, 2, 0)
    # Sam Patel's two accounts: one identity, in TYNE (the account used most recently).
    assert (tyne["rows"], tyne["rejected"], tyne["create"], tyne["lso"],
            tyne["auto_merged_rows"]) == (7, 2, 4, 1, 2)
    assert plan["lsos"] == [{"login_id": f"sam.patel@{BW}", "organisation": "TYNE",
                             "status": "active"}]
    assert sum(o["rows"] for o in plan["organisations"]) + counts["rows_outside_scope"] == 20
    reasons = {r["row"]: r["reasons"] for r in plan["rejected"]}
    assert reasons[14] == ["duplicate_legacy_id"] and reasons[10] == ["invalid_email"]
    assert all(r["message"].endswith(".") for r in plan["rejected"])


def test_exact_duplicates_merge_with_the_union_of_roles(tmp_path: Path) -> None:
    path = export(tmp_path)
    plan = build_plan(None, SYSTEM, path, POLICY)
    merged = {m["login_id"]: m["legacy_ids"] for m in plan["auto_merges"]}
    assert merged == {f"alex.morgan@{NW}": ["U1", "U2"], f"sam.patel@{BW}": ["U4", "U5"],
                      f"jo.reed@{TV}": ["U6", "U7"]}
    people = {p.login_id: p for p in planned_identities(plan, path, POLICY)}
    assert people[f"alex.morgan@{NW}"].roles == (("DES", "viewer"), ("UKLINK", "standard"))
    assert people[f"alex.morgan@{NW}"].email == f"alex.morgan@{NW}"  # the first row's address
    assert people[f"sam.patel@{BW}"].roles == (("DES", "standard"), ("GATEHOUSE", "lso"),
                                               ("UKLINK", "viewer"))
    # Disabled beside active: active, with only the active account's roles.
    assert people[f"jo.reed@{TV}"].status == "active"
    assert people[f"jo.reed@{TV}"].roles == (("UKLINK", "submitter"),)
    assert people[f"pat.kerr@{NW}"].status == "disabled"


def test_suffix_and_same_name_are_suggested_never_merged(tmp_path: Path) -> None:
    path = export(tmp_path)
    plan = build_plan(None, SYSTEM, path, POLICY)
    suggestions = {s["kind"]: s for s in plan["suggested_merges"]}
    assert set(suggestions) == {"login_suffix", "same_name"}
    assert suggestions["login_suffix"]["keys"] == [f"alex.morgan@{NW}", f"alex.morgan1@{NW}"]
    assert suggestions["login_suffix"]["survivor"] == f"alex.morgan@{NW}"
    assert set(suggestions["same_name"]["keys"]) == {f"kim.lowe@{TV}", f"k.lowe@{TV}"}
    assert all(s["decision"] is None for s in plan["suggested_merges"])
    # Still two identities each: a suggestion changes nothing until confirmed.
    logins = {p.login_id for p in planned_identities(plan, path, POLICY)}
    assert {f"alex.morgan1@{NW}", f"alex.morgan@{NW}", f"kim.lowe@{TV}", f"k.lowe@{TV}"} <= logins


def test_conflicts_carry_a_default_resolution_the_admin_can_change(tmp_path: Path) -> None:
    path = export(tmp_path)
    plan = build_plan(None, SYSTEM, path, POLICY)
    conflicts = {c["kind"]: c for c in plan["conflicts"]}
    assert conflicts["org_mismatch"]["login_id"] == f"sam.patel@{BW}"
    assert conflicts["org_mismatch"]["rows"] == [4, 5]
    assert conflicts["org_mismatch"]["resolution"] == {"organisation": "TYNE"}
    assert conflicts["status_mixed"]["resolution"] == {"status": "active"}
    conflicts["org_mismatch"]["resolution"]["organisation"] = "BRWS"
    moved = {p.login_id: p for p in planned_identities(plan, path, POLICY)}
    assert moved[f"sam.patel@{BW}"].org_code == "BRWS"


def test_a_changed_source_file_or_policy_is_refused(tmp_path: Path) -> None:
    path = export(tmp_path)
    plan = build_plan(None, SYSTEM, path, POLICY)
    check_source(plan, path)  # unchanged: accepted
    path.write_bytes(path.read_bytes().replace(b"Sam", b"Sim", 1))
    with pytest.raises(PlanRefused, match="has changed since the plan was made"):
        check_source(plan, path)
    with pytest.raises(PlanRefused, match="has changed"):
        planned_identities(plan, path, POLICY)
    restored = export(tmp_path)
    other_policy = type(POLICY)(**{**POLICY.__dict__, "sha256": "0" * 64})
    with pytest.raises(PlanRefused, match=r"migration\.toml has changed"):
        planned_identities(plan, restored, other_policy)


def test_plan_file_decisions_and_sign_off(tmp_path: Path) -> None:
    path, plan_path = export(tmp_path), tmp_path / "plan.json"
    plan = build_plan(None, SYSTEM, path, POLICY)
    write_plan(plan_path, plan)
    plan = load_plan(plan_path)
    with pytest.raises(PlanRefused, match="2 suggested merges are undecided"):
        sign_off(plan, SYSTEM, NOW)
    suffix = next(s["id"] for s in plan["suggested_merges"] if s["kind"] == "login_suffix")
    reviewer = Operator("r", "reviewer@xoserve.example", 1, frozenset({Role.SECURITY_REVIEWER}))
    with pytest.raises(PermissionDenied):
        decide(plan, reviewer, NOW, confirm=[suffix])
    with pytest.raises(InvalidInput, match="no suggested merge"):
        decide(plan, SYSTEM, NOW, confirm=["M-nope"])
    assert decide(plan, SYSTEM, NOW, confirm=[suffix]) == 1
    assert decide(plan, SYSTEM, NOW, reject_all=True) == 1
    record = sign_off(plan, SYSTEM, NOW)
    assert record["by"] == "system" and record["at"] == NOW.isoformat()
    write_plan(plan_path, plan)
    assert load_plan(plan_path)["sign_off"] == record
    # An edit after sign-off (here: flipping a decision) is detected.
    edited = json.loads(plan_path.read_text())
    edited["suggested_merges"][0]["decision"] = "rejected"
    plan_path.write_text(json.dumps(edited))
    with pytest.raises(PlanRefused, match="changed after it was signed off"):
        load_plan(plan_path)


def test_the_identities_file_stands_in_for_the_source(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    source, plan_path = export(tmp_path), tmp_path / "plan.json"
    plan, identities = build_plan_with_identities(None, SYSTEM, source, POLICY)
    derived = derive(source, POLICY)
    assert identities == derived.lines
    with pytest.raises(ValueError, match="not the ones the plan was derived with"):
        write_plan(plan_path, plan, identities + b"x")
    write_plan(plan_path, plan, identities)
    sidecar = identities_path(plan_path)
    assert sidecar.name == "plan.identities.tsv" and sidecar.read_bytes() == identities
    # Read back exactly (the plan-time conflicts live in the plan document, not in the file).
    read = read_identities(sidecar, plan)
    assert read == [p.digest_line()[:-1] for p in derived.identities]
    assert len(read) == plan["derivation"]["identities"] == 7
    assert planned_identities(plan, source, POLICY, sidecar) \
        == _without_conflicts(derived.identities)

    calls: list[Path] = []
    real_derive = plan_module.derive

    def counted(path: Path, *args: Any, **kwargs: Any) -> Any:
        calls.append(path)
        return real_derive(path, *args, **kwargs)

    monkeypatch.setattr(plan_module, "derive", counted)
    move = next(c for c in plan["conflicts"] if c["kind"] == "org_mismatch")
    move["resolution"]["organisation"] = "BRWS"  # the plan's resolutions still apply
    moved = planned_identities(plan, source, POLICY, sidecar)
    assert len(calls) == 0 and {p.login_id: p.org_code for p in moved}[f"sam.patel@{BW}"] == "BRWS"
    # The source is still checked: a changed export is refused even with the file at hand.
    source.write_bytes(source.read_bytes().replace(b"Sam", b"Sim", 1))
    with pytest.raises(PlanRefused, match="has changed"):
        planned_identities(plan, source, POLICY, sidecar)
    source = export(tmp_path)
    # A file that is not the plan's is never trusted: the identities are derived again.
    sidecar.write_bytes(identities.replace(b"kim.lowe@", b"kim.lowf@", 1))
    assert read_identities(sidecar, plan) is None
    again = planned_identities(plan, source, POLICY, sidecar)
    assert _without_conflicts(again) == moved and calls == [source]
    sidecar.unlink()
    again = planned_identities(plan, source, POLICY, sidecar)
    assert _without_conflicts(again) == moved and len(calls) == 2


@settings(deadline=None)  # a busy CI host must not turn a slow example into a failure
@given(st.lists(st.tuples(
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12),
    st.lists(st.sampled_from([("DES", "viewer"), ("UKLINK", "standard"), ("GATEHOUSE", "lso")]),
             unique=True, max_size=3),
    st.lists(st.tuples(st.from_regex(r"[A-Za-z0-9._:/-]{1,20}", fullmatch=True),
                       st.integers(1, 10**7)), min_size=1, max_size=3)), max_size=5))
def test_an_identity_line_reads_back_as_written(
        people: list[tuple[str, str, list[tuple[str, str]], list[tuple[str, int]]]]) -> None:
    """What validation lets through (no control characters, legacy ids of letters, digits
    and . _ : / -) survives the identities file's line format, commas and @ included."""
    for n, (given_name, family, roles, legacy) in enumerate(people):
        person = PlannedIdentity(n, f"p{n}@x.example", f"P{n}@x.example", given_name, family,
                                 "TYNE", "active", tuple(sorted(roles)), tuple(legacy), ())
        assert PlannedIdentity.from_line(n, person.digest_line()[:-1]) == person


def _without_conflicts(people: list[PlannedIdentity]) -> list[PlannedIdentity]:
    return [PlannedIdentity(**{**{name: getattr(p, name) for name in PlannedIdentity.__slots__},
                               "conflicts": ()}) for p in people]


def test_rejections_beyond_the_detail_limit_are_counted_not_listed(tmp_path: Path) -> None:
    junk = [["", "", "", "", "", "", "", ""]] * (MAX_REJECTION_DETAILS + 5)
    plan = build_plan(None, SYSTEM, export(tmp_path, ROWS[:1] + junk), POLICY)
    assert plan["counts"]["rows"]["rejected"] == MAX_REJECTION_DETAILS + 5
    assert len(plan["rejected"]) == plan["counts"]["rejected_listed"] == MAX_REJECTION_DETAILS


def _row_counts(ctx: Context) -> dict[str, int]:
    with ctx.store.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables}


def test_the_store_is_read_for_collisions_and_never_written(ctx: Context, tmp_path: Path
                                                            ) -> None:
    add_org(ctx, SYSTEM, "TYNE", "Tyne Valley Shippers", "shipper")
    add_identity(ctx, SYSTEM, f"kim.lowe@{TV}", "Kim", "Lowe", "TYNE", ["DES:viewer"])
    before = _row_counts(ctx)
    plan = build_plan(ctx, SYSTEM, export(tmp_path), POLICY)
    assert _row_counts(ctx) == before
    assert plan["store_id"] == ctx.store_id
    assert plan["counts"]["identities"]["collision"] == 1
    assert plan["counts"]["rows"]["collision"] == 1
    assert plan["counts"]["identities"]["create"] == 6
    collision = next(c for c in plan["conflicts"] if c["kind"] == "exists_in_store")
    assert collision["login_id"] == f"kim.lowe@{TV}"
    assert collision["resolution"] == {"action": "skip"}
    assert by_org(plan, "TYNE")["in_store"] and not by_org(plan, "NWGS")["in_store"]
    # The same-name suggestion needs both accounts to be created: with one skipped, none.
    assert {s["kind"] for s in plan["suggested_merges"]} == {"login_suffix"}


def test_a_reviewer_may_plan_but_a_plain_user_may_not(tmp_path: Path) -> None:
    reviewer = Operator("r", "reviewer@xoserve.example", 1, frozenset({Role.SECURITY_REVIEWER}))
    assert build_plan(None, reviewer, export(tmp_path), POLICY)["counts"]["rows"]["total"] == 20
    with pytest.raises(PermissionDenied):
        build_plan(None, Operator("u", "u@x.example", 1, frozenset({Role.USER})),
                   export(tmp_path), POLICY)


_local = st.from_regex(r"[A-Za-z0-9_+-]{1,12}(\.[A-Za-z0-9_+-]{1,8}){0,2}", fullmatch=True)
_domain = st.from_regex(r"([A-Za-z0-9-]{1,10}\.){1,3}[A-Za-z]{2,8}", fullmatch=True) | \
    st.sampled_from(["x.local", "a.invalid", "b.onion", "c.localhost", "xn--bcher-kva.example",
                     "ab--cd.example", "EXAMPLE.COM"])


@settings(max_examples=400, deadline=None)
@given(local=_local, domain=_domain, pad=st.sampled_from(["", " ", "\t", "\u00a0"]))
def test_the_fast_address_path_agrees_with_normalise_email(local: str, domain: str,
                                                           pad: str) -> None:
    typed = f"{pad}{local}@{domain}{pad}"
    try:
        expected = normalise_email(typed)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            fast_normalise(typed)
        return
    assert fast_normalise(typed) == expected
