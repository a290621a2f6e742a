"""The merge commands end to end through the CLI, as an admin would run them, on SQLite and
PostgreSQL: suggest, preview (exit 1 while conflicts remain), write the plan, apply it, refuse
it when stale, unmerge — with ``--json`` documents and one-line reasons on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.users import rename_identity
from tests.conftest import Cli, CliResult
from tests.test_merge_support import person

ADMIN = ("dana.admin@xoserve.example", "amber falcon river quartz")


def refused(result: CliResult, fragment: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("gatehouse: ")
    assert "Traceback" not in result.err and fragment in result.err, result.err


def test_suggest_plan_merge_and_unmerge(ctx: Context, db_url: str, cli: Cli, tmp_path: Path,
                                        make_person: Callable[..., Operator],
                                        clock: ManualClock,
                                        secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(ADMIN[1])
    admin = make_person("platform_admin", email=ADMIN[0], password=ADMIN[1])
    survivor = person(ctx, "alex.morgan@nwgs.example", ["DES:viewer"], clock=clock)
    person(ctx, "alex.morgan1@nwgs.example", ["DES:standard", "GATEHOUSE:lso"], clock=clock)
    other = person(ctx, "alex.morgan2@nwgs.example", ["UKLINK:viewer"], clock=clock)
    person(ctx, "a.morgan@brws.example", ["APIDEV:developer"], org_code="BRWS", clock=clock)
    cli.share_keys()
    cli.operator = ADMIN
    db = ("--db", db_url)
    plan_file = tmp_path / "plan.json"

    suggested, across, nwgs_only = cli.many(
        (*db, "identity", "suggest", "--json"),
        (*db, "identity", "merge-plan", "alex.morgan@nwgs.example", "a.morgan@brws.example",
         "--out", str(plan_file), "--json"),
        (*db, "identity", "suggest", "--org", "BRWS", "--json"))
    assert suggested.code == 0, suggested.err
    document = suggested.json()
    assert isinstance(document, dict)
    best = document["suggestions"][0]
    assert best["kind"] == "login_suffix"
    assert [a["login_id"] for a in best["accounts"]] == [
        "alex.morgan@nwgs.example", "alex.morgan1@nwgs.example", "alex.morgan2@nwgs.example"]
    assert best["keys"][0] == survivor and best["reasons"]
    # Accounts in two organisations: a conflict, exit 1, and no plan file written.
    assert across.code == 1, across.err
    conflicts = across.json()
    assert isinstance(conflicts, dict)
    assert [c["kind"] for c in conflicts["conflicts"]] == ["organisation"]
    assert not plan_file.exists()
    assert nwgs_only.code == 0 and nwgs_only.json() == {"count": 0, "suggestions": []}

    planned = cli(*db, "identity", "merge-plan", "alex.morgan@nwgs.example",
                  "alex.morgan1@nwgs.example", "alex.morgan2@nwgs.example",
                  "--out", str(plan_file))
    assert planned.code == 0, planned.err
    assert "GATEHOUSE:lso" in planned.out and "MFA required:  yes" in planned.out
    plan = json.loads(plan_file.read_text())
    assert plan["result"]["entitlements"] == ["DES:standard", "DES:viewer", "GATEHOUSE:lso",
                                              "UKLINK:viewer"]

    # Someone renames an absorbed account after the plan was written: the plan is stale.
    rename_identity(ctx, admin, other, 1, "Alexandra", "Morgan")
    stale = cli(*db, "identity", "merge", str(plan_file))
    refused(stale, "changed by someone else")

    replanned = cli(*db, "identity", "merge-plan", "alex.morgan@nwgs.example",
                    "alex.morgan1@nwgs.example", "alex.morgan2@nwgs.example",
                    "--out", str(plan_file), "--json")
    assert replanned.code == 0, replanned.err
    merged = cli(*db, "identity", "merge", str(plan_file), "--reason", "ticket 42", "--json")
    assert merged.code == 0, merged.err
    result = merged.json()
    assert isinstance(result, dict)
    assert result["survivor"]["login_id"] == "alex.morgan@nwgs.example"
    assert len(result["absorbed"]) == 2
    again = cli(*db, "identity", "merge", str(plan_file))
    refused(again, "changed by someone else")

    undone = cli(*db, "identity", "unmerge", "alex.morgan@nwgs.example", "--event",
                 result["event_id"], "--json")
    assert undone.code == 0, undone.err
    split = undone.json()
    assert isinstance(split, dict)
    assert split["survivor"]["entitlements"] == [{"product": "DES", "role": "viewer"}]
    assert sorted(d["login_id"] for d in split["restored"]) == [
        "alex.morgan1@nwgs.example", "alex.morgan2@nwgs.example"]


def test_bad_input_is_one_line_on_stderr(ctx: Context, db_url: str, cli: Cli, tmp_path: Path,
                                         make_person: Callable[..., Operator],
                                         secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(ADMIN[1])
    make_person("platform_admin", email=ADMIN[0], password=ADMIN[1])
    person(ctx, "jo.ng@nwgs.example")
    person(ctx, "jo.ng1@nwgs.example")
    cli.share_keys()
    cli.operator = ADMIN
    db = ("--db", db_url)
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    missing, not_json, unknown, bad_role, bad_event = cli.many(
        (*db, "identity", "merge", str(tmp_path / "absent.json")),
        (*db, "identity", "merge", str(junk)),
        (*db, "identity", "merge-plan", "jo.ng@nwgs.example", "nobody@nwgs.example"),
        (*db, "identity", "merge-plan", "jo.ng@nwgs.example", "jo.ng1@nwgs.example",
         "--keep-role", "viewer"),
        (*db, "identity", "unmerge", "jo.ng@nwgs.example", "--event", "not-an-event"))
    refused(missing, "There is no plan file")
    refused(not_json, "is not a merge plan")
    refused(unknown, "No identity has the login ID 'nobody@nwgs.example'")
    refused(bad_role, "must be written PRODUCT:ROLE")
    refused(bad_event, "No merge was recorded with the event not-an-event")
