"""Applying a merge and undoing it, on SQLite and PostgreSQL.

A merge turns absorbed accounts into aliases and gives the survivor the union of roles; an
unmerge gives every account back exactly what it had (statuses, organisations, roles with
their grant times), with versions moved on. A stale plan changes nothing. Reset links and
second factors of absorbed accounts end. Nothing secret reaches the audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.errors import CheckFailed, Conflict, InvalidInput, PermissionDenied
from services.merge import (
    MergePlan,
    UnmergeRefused,
    apply_merge,
    merge,
    merge_history,
    plan_merge,
    resolve_subject,
    suggest_for_store,
    unmerge,
)
from services.reset import issue_reset
from services.store.schema import (
    audit_event,
    entitlement,
    identity,
    merge_record,
    mfa_credential,
    product,
    recovery_code,
    reset_token,
)
from services.users import rename_identity
from tests.test_merge_support import admin, person, set_status, state, versions

Maker = Callable[..., Operator]


def three_accounts(ctx: Context, clock: ManualClock) -> tuple[str, str, str]:
    survivor = person(ctx, "alex.morgan@nwgs.example", ["DES:viewer", "UKLINK:viewer"],
                      password="a long enough password", clock=clock)
    second = person(ctx, "alex.morgan1@nwgs.example", ["DES:standard", "UKLINK:viewer"],
                    clock=clock)
    third = person(ctx, "alex.morgan2@brws.example", ["APIDEV:developer"], org_code="BRWS",
                   clock=clock)
    return survivor, second, third


def test_merge_then_unmerge_restores_the_exact_prior_state(ctx: Context, make_person: Maker,
                                                           clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, second, third = three_accounts(ctx, clock)
    set_status(ctx, third, "disabled")
    subjects = [survivor, second, third]
    before, before_versions = state(ctx, subjects), versions(ctx, subjects)

    plan = plan_merge(ctx, op, "alex.morgan@nwgs.example",
                      ["alex.morgan1@nwgs.example", "alex.morgan2@brws.example"],
                      organisation="BRWS")
    clock.advance(timedelta(minutes=1))
    result = merge(ctx, op, plan, reason="one person, ticket 77")

    assert result.survivor.entitlements == (("APIDEV", "developer"), ("DES", "standard"),
                                            ("DES", "viewer"), ("UKLINK", "viewer"))
    assert result.survivor.org_code == "BRWS"
    assert result.survivor.status == "reset_required"  # alex.morgan1 had to set a password
    assert result.absorbed == (second, third)
    merged = state(ctx, subjects)
    for alias in (second, third):
        assert merged[alias]["status"] == "merged"
        assert merged[alias]["merged_into"] == survivor
        assert merged[alias]["entitlements"] == []
        assert merged[alias]["login_id"] == before[alias]["login_id"]  # still reserved
    # The union keeps each role's earliest grant: UKLINK:viewer from the survivor's own grant.
    grants = {role: at for _p, role, at in merged[survivor]["entitlements"]}
    assert grants["viewer"] == before[survivor]["entitlements"][0][2]
    assert versions(ctx, subjects) == {s: v + 1 for s, v in before_versions.items()}
    with ctx.store.read() as conn:
        assert resolve_subject(conn, second) == survivor
        assert resolve_subject(conn, survivor) == survivor
        record = conn.execute(select(merge_record)).one()
        event = conn.execute(select(audit_event).where(
            audit_event.c.event_id == result.event_id)).one()
    assert record.survivor == survivor and json.loads(record.absorbed) == [second, third]
    assert event.action == "identity.merge" and event.reason == "one person, ticket 77"
    assert "$argon2" not in record.before_state and "password" not in record.before_state
    audit_before = json.loads(event.before)["accounts"]
    assert {a["subject"] for a in audit_before} == set(subjects)

    clock.advance(timedelta(minutes=1))
    undone = unmerge(ctx, op, "alex.morgan@nwgs.example", result.event_id, reason="two people")

    assert state(ctx, subjects) == before
    assert versions(ctx, subjects) == {s: v + 2 for s, v in before_versions.items()}
    assert undone.merge_event_id == result.event_id
    assert {d.subject for d in undone.restored} == {second, third}
    with ctx.store.read() as conn:
        assert resolve_subject(conn, second) == second
        assert conn.execute(select(merge_record.c.unmerged_by)).scalar_one() == op.login_id
        assert ctx.audit.verify(conn).ok
    with pytest.raises(InvalidInput, match="already undone"):
        unmerge(ctx, op, "alex.morgan@nwgs.example", result.event_id)


def test_a_stale_plan_changes_nothing(ctx: Context, make_person: Maker,
                                      clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, second, _third = three_accounts(ctx, clock)
    plan = plan_merge(ctx, op, "alex.morgan@nwgs.example", ["alex.morgan1@nwgs.example"])
    rename_identity(ctx, op, second, 1, "Alexandra", "Morgan")  # someone else, meanwhile
    before = state(ctx, [survivor, second])
    with ctx.store.read() as conn:
        events = conn.execute(select(audit_event.c.seq)).all()

    with pytest.raises(Conflict, match=r"alex\.morgan1@nwgs\.example was changed by "
                                       r"someone else.*reload"):
        merge(ctx, op, plan)

    assert state(ctx, [survivor, second]) == before
    with ctx.store.read() as conn:
        assert conn.execute(select(audit_event.c.seq)).all() == events
        assert conn.execute(select(merge_record)).all() == []


def test_a_role_change_without_a_version_change_also_makes_the_plan_stale(
        ctx: Context, make_person: Maker, clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, second, _third = three_accounts(ctx, clock)
    plan = plan_merge(ctx, op, "alex.morgan@nwgs.example", ["alex.morgan1@nwgs.example"])
    with ctx.store.write() as conn:
        des = conn.execute(select(product.c.id).where(product.c.code == "APIDEV")).scalar_one()
        conn.execute(insert(entitlement).values(subject=survivor, product_id=des,
                                                role="developer", granted_at=clock.now()))
    with pytest.raises(Conflict):
        merge(ctx, op, plan)
    assert state(ctx, [second])[second]["status"] == "reset_required"


def test_a_plan_with_conflicts_or_edited_by_hand_is_refused(ctx: Context, make_person: Maker,
                                                             clock: ManualClock) -> None:
    op = admin(make_person)
    three_accounts(ctx, clock)
    open_plan = plan_merge(ctx, op, "alex.morgan@nwgs.example", ["alex.morgan2@brws.example"])
    with pytest.raises(CheckFailed, match=r"unresolved conflicts.*different organisations"):
        merge(ctx, op, open_plan)

    plan = plan_merge(ctx, op, "alex.morgan@nwgs.example", ["alex.morgan1@nwgs.example"])
    forged = MergePlan.from_dict({**plan.as_dict(), "result": {
        **plan.as_dict()["result"], "entitlements": ["GATEHOUSE:platform_admin"]}})
    with pytest.raises(CheckFailed, match="no longer matches"):
        merge(ctx, op, forged)
    with ctx.store.read() as conn:
        assert conn.execute(select(merge_record)).all() == []


def test_apply_merge_joins_the_callers_transaction(ctx: Context, make_person: Maker,
                                                   clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, second, _third = three_accounts(ctx, clock)
    plan = plan_merge(ctx, op, "alex.morgan@nwgs.example", ["alex.morgan1@nwgs.example"])
    before = state(ctx, [survivor, second])

    class BatchFailed(Exception):
        pass

    with pytest.raises(BatchFailed), ctx.store.write() as conn:
        result = apply_merge(ctx, conn, op, plan)
        assert result.survivor.status == "reset_required"
        raise BatchFailed  # the rest of the batch failed: the merge goes with it
    assert state(ctx, [survivor, second]) == before

    with ctx.store.write() as conn:
        apply_merge(ctx, conn, op, plan)
    assert state(ctx, [second])[second]["status"] == "merged"


def test_reset_links_and_second_factors_of_absorbed_accounts_end(
        ctx: Context, make_person: Maker, clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, second, _third = three_accounts(ctx, clock)
    now = clock.now()
    with ctx.store.write() as conn:
        issue_reset(ctx, conn, op, second, "admin")
        issue_reset(ctx, conn, op, survivor, "admin")
        creds = {}
        for subject in (survivor, second):
            creds[subject] = conn.execute(insert(mfa_credential).values(
                subject=subject, status="active", seed_sealed="sealed-elsewhere",
                algorithm="SHA1", digits=6, period=30, created_at=now, confirmed_at=now)
            ).inserted_primary_key[0]
            conn.execute(insert(recovery_code).values(
                subject=subject, credential_id=creds[subject], code_hash=f"h-{subject}",
                created_at=now))
    lso_admin = replace(make_person("platform_admin"), mfa_verified=True)
    plan = plan_merge(ctx, lso_admin, "alex.morgan@nwgs.example",
                      ["alex.morgan1@nwgs.example"])
    assert plan.survivor.mfa_enrolled and plan.absorbed[0].mfa_enrolled
    assert any("authenticators and recovery codes of alex.morgan1" in n for n in plan.notes)

    result = merge(ctx, op, plan)

    assert result.revoked_resets == 1 and result.authenticators_retired == 1
    with ctx.store.read() as conn:
        tokens = {r.subject: r.revoked_at for r in conn.execute(select(reset_token))}
        statuses = {r.subject: r.status for r in conn.execute(select(mfa_credential))}
        codes = {r.subject for r in conn.execute(select(recovery_code))}
    assert tokens[second] == clock.now() and tokens[survivor] is None
    assert statuses == {survivor: "active", second: "retired"}  # the survivor's is kept
    assert codes == {survivor}


def test_unmerge_refuses_what_it_cannot_undo_exactly(ctx: Context, make_person: Maker,
                                                     clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, _second, third = three_accounts(ctx, clock)
    first = merge(ctx, op, plan_merge(ctx, op, "alex.morgan@nwgs.example",
                                      ["alex.morgan1@nwgs.example"]))
    later = merge(ctx, op, plan_merge(ctx, op, "alex.morgan@nwgs.example",
                                      ["alex.morgan2@brws.example"], organisation="NWGS"))
    with pytest.raises(UnmergeRefused, match=f"absorbed more accounts later.*{later.event_id}"):
        unmerge(ctx, op, survivor, first.event_id)
    with pytest.raises(InvalidInput, match="into another identity"):
        unmerge(ctx, op, "alex.morgan1@nwgs.example", first.event_id)

    unmerge(ctx, op, survivor, later.event_id)
    with ctx.store.write() as conn:  # a role given to the merged identity since
        apiv = conn.execute(select(product.c.id).where(product.c.code == "APIDEV")).scalar_one()
        conn.execute(insert(entitlement).values(subject=survivor, product_id=apiv,
                                                role="developer", granted_at=clock.now()))
    with pytest.raises(UnmergeRefused, match="roles changed after the merge"):
        unmerge(ctx, op, survivor, first.event_id)
    with ctx.store.write() as conn:
        conn.execute(entitlement.delete().where(entitlement.c.subject == survivor,
                                                entitlement.c.product_id == apiv))
        conn.execute(update(identity).where(identity.c.subject == survivor)
                     .values(status="active"))  # the person set a password since
    with pytest.raises(UnmergeRefused, match="is now active, not reset_required"):
        unmerge(ctx, op, survivor, first.event_id)
    with ctx.store.write() as conn:
        conn.execute(update(identity).where(identity.c.subject == survivor)
                     .values(status="reset_required"))
    undone = unmerge(ctx, op, survivor, first.event_id)
    assert undone.survivor.status == "active"
    assert state(ctx, [third])[third]["status"] == "reset_required"
    history = merge_history(ctx, op, survivor)
    assert [h["event_id"] for h in history] == [later.event_id, first.event_id]
    assert all(h["unmerged_by"] == op.login_id for h in history)


def test_unmerge_by_audit_sequence_number_and_renames_survive(
        ctx: Context, make_person: Maker, clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, _second, _third = three_accounts(ctx, clock)
    result = merge(ctx, op, plan_merge(ctx, op, "alex.morgan@nwgs.example",
                                       ["alex.morgan1@nwgs.example"]))
    renamed = rename_identity(ctx, op, survivor, result.survivor.version, "Alexander", "Morgan")
    undone = unmerge(ctx, op, "alex.morgan@nwgs.example", str(result.audit_seq))
    # A later correction of the survivor's name is not the merge's to undo.
    assert undone.survivor.given_name == "Alexander"
    assert undone.survivor.version == renamed.version + 1


def test_already_merged_accounts_cannot_be_merged_again(ctx: Context, make_person: Maker,
                                                        clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, _second, _third = three_accounts(ctx, clock)
    merge(ctx, op, plan_merge(ctx, op, "alex.morgan@nwgs.example",
                              ["alex.morgan1@nwgs.example"]))
    with pytest.raises(InvalidInput, match=f"already merged into the identity {survivor}"):
        plan_merge(ctx, op, "alex.morgan2@brws.example", ["alex.morgan1@nwgs.example"],
                   organisation="BRWS")


def test_merge_needs_a_platform_admin_with_a_second_factor(ctx: Context, make_person: Maker,
                                                           clock: ManualClock) -> None:
    op = admin(make_person)
    three_accounts(ctx, clock)
    plan = plan_merge(ctx, op, "alex.morgan@nwgs.example", ["alex.morgan1@nwgs.example"])
    lso = replace(make_person("lso", org="NWGS"), mfa_verified=True)
    unverified = replace(op, mfa_verified=False)
    for who in (lso, unverified):
        with pytest.raises(PermissionDenied):
            merge(ctx, who, plan)


def test_suggestions_come_from_live_identities_only(ctx: Context, make_person: Maker,
                                                    clock: ManualClock) -> None:
    op = admin(make_person)
    survivor, second, _third = three_accounts(ctx, clock)
    fourth = person(ctx, "alex.morgan3@nwgs.example", clock=clock)
    (found,) = [s for s in suggest_for_store(ctx, op) if s.suggestion.kind == "login_suffix"]
    assert found.suggestion.keys == (survivor, second, fourth)
    assert found.accounts[0].login_id == "alex.morgan@nwgs.example"
    assert [s.suggestion.keys for s in suggest_for_store(ctx, op, org_code="brws")] == []

    merge(ctx, op, plan_merge(ctx, op, "alex.morgan@nwgs.example",
                              ["alex.morgan1@nwgs.example"]))
    (left,) = [s for s in suggest_for_store(ctx, op) if s.suggestion.kind == "login_suffix"]
    assert left.suggestion.keys == (survivor, fourth)  # the alias is no longer suggested
    lso = replace(make_person("lso", org="NWGS"), mfa_verified=True)
    with pytest.raises(PermissionDenied):
        suggest_for_store(ctx, lso)
