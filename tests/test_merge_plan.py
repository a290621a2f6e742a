"""Merge plans: the preview of combining one person's accounts, on SQLite and PostgreSQL.

Union of roles product by product, exclusive roles as conflicts settled by a choice, different
organisations settled by a choice, reset_required carried over, open reset links counted for
revocation, MFA required by privileged roles, versions captured, the JSON file round trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from policies.merge_policy import MergePolicy
from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.errors import InvalidInput, NotFound, PermissionDenied
from services.merge import MergePlan, plan_merge
from services.reset import issue_reset
from tests.test_merge_support import admin, person, set_status

Maker = Callable[..., Operator]


def test_plan_is_the_union_product_by_product(ctx: Context, make_person: Maker,
                                              clock: ManualClock) -> None:
    op = admin(make_person)
    person(ctx, "alex.morgan@nwgs.example", ["DES:viewer", "UKLINK:viewer"], password="x" * 20)
    person(ctx, "alex.morgan1@nwgs.example", ["DES:standard", "UKLINK:viewer"])
    person(ctx, "Alex.Morgan2@nwgs.example", ["APIDEV:developer"])

    plan = plan_merge(ctx, op, "alex.morgan@nwgs.example",
                      ["alex.morgan1@nwgs.example", "ALEX.MORGAN2@nwgs.example"])

    assert plan.login_id == "alex.morgan@nwgs.example"
    # Two roles in one product (DES viewer and standard) are both kept.
    assert plan.entitlements == ("APIDEV:developer", "DES:standard", "DES:viewer",
                                 "UKLINK:viewer")
    assert plan.gained_roles == ("APIDEV:developer", "DES:standard")
    assert plan.organisation == "NWGS"
    assert plan.conflicts == () and plan.can_apply
    assert [a.login_id for a in plan.absorbed] == ["alex.morgan1@nwgs.example",
                                                   "alex.morgan2@nwgs.example"]
    assert all(a.version == 1 for a in plan.accounts)
    assert plan.planned_by == op.login_id and plan.planned_at == clock.now()
    assert not plan.mfa_required


def test_exclusive_roles_are_a_conflict_until_one_is_kept(ctx: Context,
                                                          make_person: Maker) -> None:
    op = admin(make_person)
    person(ctx, "robin.a@xos.example", ["GATEHOUSE:platform_admin", "DES:viewer"],
           org_code="XOS")
    person(ctx, "robin.b@xos.example", ["GATEHOUSE:security_reviewer"], org_code="XOS")

    plan = plan_merge(ctx, op, "robin.a@xos.example", ["robin.b@xos.example"])
    assert not plan.can_apply
    (conflict,) = plan.conflicts
    assert conflict.kind == "exclusive_roles"
    assert conflict.choices == ("GATEHOUSE:platform_admin", "GATEHOUSE:security_reviewer")
    assert "choose which one" in conflict.message

    kept = plan_merge(ctx, op, "robin.a@xos.example", ["robin.b@xos.example"],
                      keep_roles=["gatehouse:Security_Reviewer"])
    assert kept.can_apply
    assert kept.entitlements == ("DES:viewer", "GATEHOUSE:security_reviewer")
    assert kept.dropped_roles == ("GATEHOUSE:platform_admin",)
    assert kept.keep_roles == ("GATEHOUSE:security_reviewer",)

    both = plan_merge(ctx, op, "robin.a@xos.example", ["robin.b@xos.example"],
                      keep_roles=["GATEHOUSE:security_reviewer", "GATEHOUSE:platform_admin"])
    assert [c.kind for c in both.conflicts] == ["exclusive_roles"]
    assert "choose one of them" in both.conflicts[0].message

    with pytest.raises(InvalidInput, match="is in no conflict"):
        plan_merge(ctx, op, "robin.a@xos.example", ["robin.b@xos.example"],
                   keep_roles=["DES:viewer"])
    with pytest.raises(InvalidInput, match="None of these accounts holds"):
        plan_merge(ctx, op, "robin.a@xos.example", ["robin.b@xos.example"],
                   keep_roles=["GATEHOUSE:lso"])


def test_chained_exclusive_pairs_settle_by_dropping_the_middle_role(
        ctx: Context, make_person: Maker) -> None:
    op = admin(make_person)
    person(ctx, "kim.a@nwgs.example", ["UKLINK:viewer", "UKLINK:submitter"])
    person(ctx, "kim.b@nwgs.example", ["UKLINK:standard"])
    policy = MergePolicy(exclusive_roles=(("UKLINK:standard", "UKLINK:viewer"),
                                          ("UKLINK:standard", "UKLINK:submitter")))
    open_plan = plan_merge(ctx, op, "kim.a@nwgs.example", ["kim.b@nwgs.example"],
                           policy=policy)
    assert len(open_plan.conflicts) == 2
    plan = plan_merge(ctx, op, "kim.a@nwgs.example", ["kim.b@nwgs.example"], policy=policy,
                      keep_roles=["UKLINK:viewer", "UKLINK:submitter"])
    assert plan.can_apply
    assert plan.entitlements == ("UKLINK:submitter", "UKLINK:viewer")
    assert plan.dropped_roles == ("UKLINK:standard",)


def test_different_organisations_need_an_explicit_choice(ctx: Context,
                                                         make_person: Maker) -> None:
    op = admin(make_person)
    person(ctx, "sam.lee@nwgs.example", ["DES:viewer"], org_code="NWGS")
    person(ctx, "sam.lee@brws.example", ["DES:standard"], org_code="BRWS")

    plan = plan_merge(ctx, op, "sam.lee@nwgs.example", ["sam.lee@brws.example"])
    assert plan.organisation is None and not plan.can_apply
    (conflict,) = plan.conflicts
    assert conflict.kind == "organisation" and conflict.choices == ("BRWS", "NWGS")

    chosen = plan_merge(ctx, op, "sam.lee@nwgs.example", ["sam.lee@brws.example"],
                        organisation="brws")
    assert chosen.can_apply and chosen.organisation == "BRWS"
    with pytest.raises(InvalidInput, match="choose one of BRWS, NWGS"):
        plan_merge(ctx, op, "sam.lee@nwgs.example", ["sam.lee@brws.example"],
                   organisation="XOS")


def test_reset_required_carries_over_and_open_resets_are_counted(ctx: Context,
                                                                 make_person: Maker) -> None:
    op = admin(make_person)
    person(ctx, "lee.park@nwgs.example", ["DES:viewer"], password="a long enough password")
    other = person(ctx, "lee.park1@nwgs.example", ["DES:viewer"])  # no password: reset_required
    with ctx.store.write() as conn:
        issue_reset(ctx, conn, op, other, "admin")
        issue_reset(ctx, conn, op, other, "admin")

    plan = plan_merge(ctx, op, "lee.park@nwgs.example", ["lee.park1@nwgs.example"])
    assert plan.survivor.status == "active"
    assert plan.status == "reset_required"
    assert plan.as_dict()["result"]["reset_required"] is True
    assert plan.revoke_resets == 2
    assert any("must set one too" in n for n in plan.notes)
    assert any("2 open password-reset link(s)" in n for n in plan.notes)


def test_a_survivor_that_needs_a_reset_stays_so(ctx: Context, make_person: Maker) -> None:
    op = admin(make_person)
    person(ctx, "ash.fox@nwgs.example")  # reset_required
    person(ctx, "ash.fox1@nwgs.example", password="a long enough password")  # active
    plan = plan_merge(ctx, op, "ash.fox@nwgs.example", ["ash.fox1@nwgs.example"])
    assert plan.status == "reset_required"


def test_privileged_roles_require_mfa(ctx: Context, make_person: Maker) -> None:
    op = admin(make_person)
    person(ctx, "lesley.o@nwgs.example", ["DES:viewer"])
    person(ctx, "lesley.o1@nwgs.example", ["GATEHOUSE:lso"])
    plan = plan_merge(ctx, op, "lesley.o@nwgs.example", ["lesley.o1@nwgs.example"])
    assert plan.mfa_required
    assert any("requires MFA" in n and "never carried over" in n for n in plan.notes)


def test_plan_round_trips_through_its_json_file(ctx: Context, make_person: Maker,
                                                tmp_path: Path) -> None:
    op = admin(make_person)
    person(ctx, "sam.lee@nwgs.example", ["DES:viewer"], org_code="NWGS")
    person(ctx, "sam.lee@brws.example", ["GATEHOUSE:lso"], org_code="BRWS")
    plan = plan_merge(ctx, op, "sam.lee@nwgs.example", ["sam.lee@brws.example"],
                      organisation="NWGS")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.as_dict()))
    again = MergePlan.from_dict(json.loads(path.read_text()))
    assert again == plan
    document = plan.as_dict()
    assert document["format"] == "gatehouse-merge-plan/1"
    assert document["choices"] == {"organisation": "NWGS", "keep_roles": []}
    assert "password_hash" not in json.dumps(document)

    with pytest.raises(InvalidInput, match="not a Gatehouse merge plan"):
        MergePlan.from_dict({"format": "something else"})
    broken = plan.as_dict()
    broken["survivor"] = {"subject": 5}
    with pytest.raises(InvalidInput, match="damaged"):
        MergePlan.from_dict(broken)


def test_plan_refuses_bad_selections(ctx: Context, make_person: Maker) -> None:
    op = admin(make_person)
    person(ctx, "jo.ng@nwgs.example")
    gone = person(ctx, "jo.ng1@nwgs.example")
    set_status(ctx, gone, "deleted")
    with pytest.raises(InvalidInput, match="at least one account"):
        plan_merge(ctx, op, "jo.ng@nwgs.example", [])
    with pytest.raises(InvalidInput, match="named twice"):
        plan_merge(ctx, op, "jo.ng@nwgs.example", ["JO.NG@nwgs.example"])
    with pytest.raises(NotFound, match="check the spelling"):
        plan_merge(ctx, op, "jo.ng@nwgs.example", ["nobody@nwgs.example"])
    with pytest.raises(InvalidInput, match="is deleted; restore it"):
        plan_merge(ctx, op, "jo.ng@nwgs.example", [gone])


def test_only_a_platform_admin_may_plan_a_merge(ctx: Context, make_person: Maker) -> None:
    lso = replace(make_person("lso", org="NWGS"), mfa_verified=True)
    reviewer = replace(make_person("security_reviewer"), mfa_verified=True)
    person(ctx, "jo.ng@nwgs.example")
    person(ctx, "jo.ng1@nwgs.example")
    for op in (lso, reviewer):
        with pytest.raises(PermissionDenied, match="ask a platform admin"):
            plan_merge(ctx, op, "jo.ng@nwgs.example", ["jo.ng1@nwgs.example"])
