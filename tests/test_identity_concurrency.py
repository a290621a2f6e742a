"""Two admins at two desktops, as two real processes on one store (SQLite and PostgreSQL):
editing the same identity, merging overlapping sets, or one deleting while the other merges.
One succeeds, the other is told the identity changed — reload — and nothing is half-applied
or silently overwritten. Each worker reads first, says so, waits for "go", then writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from services.authz import SYSTEM, Operator
from services.context import Context
from services.store.schema import audit_event, entitlement, identity
from services.users import IdentityDetail, add_identity, get_identity
from tests.conftest import REPO_ROOT, Cli

WORKER = textwrap.dedent("""
    import json, sys
    from services.authz import SYSTEM
    from services.context import open_context
    from services.errors import Conflict, GatehouseError

    url, spec = sys.argv[1], json.loads(sys.argv[2])
    ctx = open_context(url, create=False)
    try:
        if spec["do"] == "edit":
            from services.profile import update_profile
            from services.users import get_identity
            version = get_identity(ctx, SYSTEM, spec["key"]).version
            act = lambda: update_profile(ctx, SYSTEM, spec["key"], spec["changes"],
                                         expected_version=version)
        elif spec["do"] == "merge":
            from services.merge import merge, plan_merge
            plan = plan_merge(ctx, SYSTEM, spec["survivor"], spec["others"])
            act = lambda: merge(ctx, SYSTEM, plan)
        else:
            from services.identity_lifecycle import delete_identity
            from services.users import get_identity
            version = get_identity(ctx, SYSTEM, spec["key"]).version
            act = lambda: delete_identity(ctx, SYSTEM, spec["key"], reason="left",
                                          expected_version=version)
        print("ready", flush=True)
        sys.stdin.readline()
        try:
            act()
            print("won", flush=True)
        except Conflict as exc:
            print(f"conflict {exc}", flush=True)
        except GatehouseError as exc:
            print(f"refused {type(exc).__name__} {exc}", flush=True)
    finally:
        ctx.close()
""")


def race(db_url: str, cli: Cli, *specs: dict[str, object]) -> list[str]:
    cli.share_keys()
    workers = [subprocess.Popen(
        [sys.executable, "-c", WORKER, db_url, json.dumps(spec)], cwd=REPO_ROOT,
        env=cli.env_for(), text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE) for spec in specs]
    try:
        for worker in workers:  # every worker has read before any writes
            assert worker.stdout is not None
            line = worker.stdout.readline().strip()
            if line != "ready":
                raise AssertionError(worker.communicate(timeout=60))
        outputs = [w.communicate(input="go\n", timeout=120) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [w.returncode for w in workers] == [0] * len(workers), outputs
    return [out.strip() for out, _err in outputs]


def one_won(results: list[str]) -> int:
    winners = [i for i, r in enumerate(results) if r == "won"]
    assert len(winners) == 1, results
    loser = results[1 - winners[0]]
    assert loser.startswith("conflict ") and "reload" in loser, results
    return winners[0]


@pytest.fixture
def people(ctx: Context, make_person: Callable[..., Operator]) -> list[IdentityDetail]:
    make_person("platform_admin")
    return [add_identity(ctx, SYSTEM, f"{login}@northwind.example", "Alex", "Morgan", "XOS",
                         [role])
            for login, role in (("alex.morgan", "DES:viewer"), ("alex.morgan1", "UKLINK:viewer"),
                                ("alex.morgan2", "APIDEV:developer"))]


def audit_ok(ctx: Context) -> None:
    with ctx.store.read() as conn:
        assert ctx.audit.verify(conn).ok


def test_edit_and_edit(ctx: Context, db_url: str, cli: Cli,
                       people: list[IdentityDetail]) -> None:
    key = people[0].login_id
    results = race(db_url, cli, {"do": "edit", "key": key, "changes": {"job_title": "Analyst"}},
                   {"do": "edit", "key": key, "changes": {"job_title": "Manager"}})
    winner = one_won(results)
    final = get_identity(ctx, SYSTEM, key)
    assert final.job_title == ("Analyst", "Manager")[winner]
    assert final.version == people[0].version + 1
    with ctx.store.read() as conn:
        edits = conn.execute(select(func.count()).select_from(audit_event).where(
            audit_event.c.action == "profile.update")).scalar_one()
    assert edits == 1
    audit_ok(ctx)


def _state(ctx: Context) -> list[tuple[str, str, str | None, int]]:
    with ctx.store.read() as conn:
        rows = conn.execute(select(identity.c.login_id, identity.c.status,
                                   identity.c.merged_into, func.count(entitlement.c.role))
                            .select_from(identity.outerjoin(entitlement))
                            .group_by(identity.c.login_id, identity.c.status,
                                      identity.c.merged_into)
                            .order_by(identity.c.login_id)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_merge_and_merge_of_overlapping_sets(ctx: Context, db_url: str, cli: Cli,
                                             people: list[IdentityDetail]) -> None:
    a, b, c = (p.login_id for p in people)
    results = race(db_url, cli, {"do": "merge", "survivor": a, "others": [b]},
                   {"do": "merge", "survivor": a, "others": [b, c]})
    winner = one_won(results)
    survivor = get_identity(ctx, SYSTEM, a)
    expected = {0: {"DES:viewer", "UKLINK:viewer"},
                1: {"DES:viewer", "UKLINK:viewer", "APIDEV:developer"}}[winner]
    assert {f"{p}:{r}" for p, r in survivor.entitlements} == expected
    statuses = {login: status for login, status, _m, _n in _state(ctx)}
    assert statuses[b] == "merged"
    assert statuses[c] == ("reset_required" if winner == 0 else "merged")
    audit_ok(ctx)


def test_delete_while_another_admin_merges(ctx: Context, db_url: str, cli: Cli,
                                           people: list[IdentityDetail]) -> None:
    a, b, _c = (p.login_id for p in people)
    before = _state(ctx)
    results = race(db_url, cli, {"do": "delete", "key": b},
                   {"do": "merge", "survivor": a, "others": [b]})
    winner = one_won(results)
    after = _state(ctx)
    statuses = {login: status for login, status, _m, _n in after}
    if winner == 0:  # deleted: the merge changed nothing
        assert statuses[b] == "deleted"
        assert [r for r in after if r[0] != b] == [r for r in before if r[0] != b]
    else:  # merged: the delete changed nothing
        assert statuses[b] == "merged"
        assert {f"{p}:{r}" for p, r in get_identity(ctx, SYSTEM, a).entitlements} == {
            "DES:viewer", "UKLINK:viewer"}
    audit_ok(ctx)
