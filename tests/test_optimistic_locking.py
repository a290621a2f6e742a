"""Optimistic locking (DESIGN.md, Data): every mutable row has a version; a stale write is
refused with "changed by someone else, reload", never silently overwritten — also when two
separate processes (two desktops) race on one store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from services.authz import SYSTEM, Operator
from services.context import Context
from services.errors import Conflict
from services.store.schema import audit_event
from services.users import (
    IdentityDetail,
    add_identity,
    disable_identity,
    get_identity,
    rename_identity,
)
from tests.conftest import REPO_ROOT, Cli

ADMIN_PASSWORD = "quiet harbour morning lighthouse"

# Reads the identity, says which version it read, waits for "go", then writes with that version.
WORKER = textwrap.dedent("""
    import sys
    from services.authz import SYSTEM
    from services.context import open_context
    from services.errors import Conflict
    from services.users import get_identity, rename_identity

    url, key, given = sys.argv[1:4]
    ctx = open_context(url, create=False)
    try:
        version = get_identity(ctx, SYSTEM, key).version
        print(f"read {version}", flush=True)
        sys.stdin.readline()
        try:
            detail = rename_identity(ctx, SYSTEM, key, version, given, "Morgan")
            print(f"won {detail.version}", flush=True)
        except Conflict as exc:
            print(f"conflict {exc}", flush=True)
    finally:
        ctx.close()
""")


@pytest.fixture
def target(ctx: Context, make_person: Callable[..., Operator]) -> IdentityDetail:
    make_person("platform_admin")
    return add_identity(ctx, SYSTEM, "alex.morgan@northwind.example", "Alex", "Morgan", "XOS")


def renames(ctx: Context, subject: str) -> int:
    with ctx.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_event).where(
            audit_event.c.action == "identity.rename",
            audit_event.c.target_id == subject)).scalar_one())


def test_a_stale_version_is_refused_and_the_newer_values_stay(ctx: Context,
                                                              target: IdentityDetail) -> None:
    first = rename_identity(ctx, SYSTEM, target.login_id, target.version, "Alexandra", "Morgan")
    assert first.version == target.version + 1

    with pytest.raises(Conflict) as refused:
        rename_identity(ctx, SYSTEM, target.login_id, target.version, "Alexis", "Morgan")
    assert "changed by someone else" in str(refused.value)
    assert "reload" in str(refused.value)
    with pytest.raises(Conflict):
        disable_identity(ctx, SYSTEM, target.login_id, expected_version=target.version)

    now = get_identity(ctx, SYSTEM, target.subject)
    assert (now.given_name, now.status, now.version) == ("Alexandra", "reset_required",
                                                         target.version + 1)
    assert renames(ctx, target.subject) == 1  # the refused write left no event either


def test_two_processes_that_read_the_same_version_one_wins_one_is_told_to_reload(
        ctx: Context, target: IdentityDetail, db_url: str, cli: Cli) -> None:
    cli.share_keys()
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, db_url, target.login_id, given],
                         cwd=REPO_ROOT, env=cli.env_for(), text=True, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for given in ("Alexandra", "Alexis")
    ]
    try:
        for worker in workers:  # both have read version N before either writes
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == f"read {target.version}"
        outputs = [w.communicate(input="go\n", timeout=120) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [w.returncode for w in workers] == [0, 0], [err for _out, err in outputs]

    results = [out.strip() for out, _err in outputs]
    winners = [i for i, r in enumerate(results) if r == f"won {target.version + 1}"]
    losers = [i for i, r in enumerate(results) if r.startswith("conflict ")]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert "changed by someone else" in results[losers[0]]
    assert "reload it and try again" in results[losers[0]]

    final = get_identity(ctx, SYSTEM, target.subject)
    assert final.given_name == ("Alexandra", "Alexis")[winners[0]]
    assert final.version == target.version + 1
    assert renames(ctx, target.subject) == 1
    with ctx.store.read() as conn:
        assert ctx.audit.verify(conn).ok


def test_two_cli_renames_with_the_same_version(ctx: Context, make_person: Callable[..., Operator],
                                               db_url: str, cli: Cli,
                                               secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(ADMIN_PASSWORD)
    make_person("platform_admin", email="dana.admin@xoserve.example", password=ADMIN_PASSWORD)
    target = add_identity(ctx, SYSTEM, "sam.taylor@northwind.example", "Sam", "Taylor", "XOS")
    cli.share_keys()
    admin = ("dana.admin@xoserve.example", ADMIN_PASSWORD)
    runs = [cli.popen("--db", db_url, "--json", "users", "rename", target.login_id,
                      "--version", str(target.version), "--given", given, "--family", "Taylor",
                      operator=admin)
            for given in ("Samuel", "Samantha")]
    outputs = [run.communicate(timeout=120) for run in runs]
    codes = [run.returncode for run in runs]
    assert sorted(codes) == [0, 2], outputs

    winner, loser = codes.index(0), codes.index(2)
    err_lines = outputs[loser][1].splitlines()
    assert len(err_lines) == 1
    assert "changed by someone else since you opened it; reload it and try again." in err_lines[0]
    assert "Traceback" not in outputs[loser][1]

    final = get_identity(ctx, SYSTEM, target.subject)
    assert final.given_name == ("Samuel", "Samantha")[winner]
    assert final.version == target.version + 1
    assert renames(ctx, target.subject) == 1
