"""CLI: the ``identity`` group's commands for merge (registered by ``identity``).

``merge-plan`` previews and can write the plan to a file; ``merge`` applies such a file (so
what was reviewed is what is applied, and a stale file is refused); ``unmerge`` splits a merge
back; ``suggest`` lists likely merges with reasons. Exit 1: a plan with conflicts to settle.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from services.cli.common import Groups, emit, open_ctx, operator, table


def _plan_text(plan: Any) -> str:
    lines = [f"Keep:          {plan.login_id} ({plan.survivor.given_name} "
             f"{plan.survivor.family_name}, {plan.survivor.org_code}, {plan.survivor.status})"]
    for account in plan.absorbed:
        lines.append(f"Absorb:        {account.login_id} ({account.given_name} "
                     f"{account.family_name}, {account.org_code}, {account.status})")
    lines += [f"Organisation:  {plan.organisation or 'to be chosen'}",
              f"Roles:         {', '.join(plan.entitlements) or 'none'}",
              f"Status:        {plan.status}",
              f"MFA required:  {'yes' if plan.mfa_required else 'no'}"]
    lines += [f"Note:          {note}" for note in plan.notes]
    lines += [f"CONFLICT:      {c.message}" for c in plan.conflicts]
    return "\n".join(lines)


def cmd_merge_plan(args: argparse.Namespace) -> int:
    from services.merge import plan_merge

    ctx = open_ctx(args)
    try:
        plan = plan_merge(ctx, operator(ctx), args.survivor, args.others,
                          organisation=args.org, keep_roles=args.keep_role or [])
    finally:
        ctx.close()
    document = plan.as_dict()
    text = _plan_text(plan)
    if plan.conflicts:
        text += ("\nSettle the conflicts (--org CODE, --keep-role PRODUCT:ROLE) and plan again"
                 + ("; no plan file was written." if args.out else "."))
    elif args.out:
        Path(args.out).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                                  encoding="utf-8")
        text += f"\nPlan written to {args.out}; apply it with: python main.py identity merge " \
                f"{args.out}"
    emit(args, document, text)
    return 0 if plan.can_apply else 1


def _read_plan(path: str) -> Any:
    from services.errors import InvalidInput
    from services.merge import MergePlan

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"There is no plan file {path}; make one with: python main.py "
                           "identity merge-plan SURVIVOR OTHER… --out PLAN.json.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not a merge plan ({exc}); make a new one with: python "
                           "main.py identity merge-plan.") from None
    return MergePlan.from_dict(data)


def cmd_merge(args: argparse.Namespace) -> int:
    from services.merge import merge

    plan = _read_plan(args.plan)
    ctx = open_ctx(args)
    try:
        result = merge(ctx, operator(ctx), plan, reason=args.reason or "")
    finally:
        ctx.close()
    survivor = result.survivor
    emit(args, result.as_dict(),
         f"Merged {len(result.absorbed)} account(s) into {survivor.login_id}: roles "
         f"{', '.join(f'{p}:{r}' for p, r in survivor.entitlements) or 'none'}; status "
         f"{survivor.status}.\nTo undo: python main.py identity unmerge {survivor.login_id} "
         f"--event {result.event_id}")
    return 0


def cmd_unmerge(args: argparse.Namespace) -> int:
    from services.merge import unmerge

    ctx = open_ctx(args)
    try:
        result = unmerge(ctx, operator(ctx), args.survivor, args.event, reason=args.reason or "")
    finally:
        ctx.close()
    emit(args, result.as_dict(),
         f"Split {result.survivor.login_id} back: "
         + ", ".join(f"{d.login_id} ({d.status})" for d in result.restored)
         + " are accounts of their own again.\n" + "\n".join(result.notes))
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    from services.merge import suggest_for_store

    ctx = open_ctx(args)
    try:
        found = suggest_for_store(ctx, operator(ctx), org_code=args.org)
    finally:
        ctx.close()
    shown = found[:args.limit] if args.limit else found
    rows = [(f"{s.suggestion.score:.2f}", s.suggestion.kind,
             " + ".join(a.login_id for a in s.accounts), s.suggestion.reasons[0])
            for s in shown]
    emit(args, {"count": len(found), "suggestions": [s.as_dict() for s in shown]},
         (table(rows, ("score", "kind", "accounts (survivor first)", "why")) if rows else
          "No likely merges found.")
         + f"\n{len(found)} suggestion(s); preview one with: python main.py identity "
           "merge-plan SURVIVOR OTHER…")
    return 0


def add_commands(cli: Groups, group: Any) -> None:
    p = cli.command(group, "merge-plan", cmd_merge_plan,
                    "preview merging one person's accounts into one (changes nothing)")
    p.add_argument("survivor", metavar="SURVIVOR", help="login ID or subject id kept")
    p.add_argument("others", metavar="OTHER", nargs="+", help="accounts to absorb")
    p.add_argument("--org", metavar="CODE",
                   help="the merged identity's organisation, when the accounts' differ")
    p.add_argument("--keep-role", action="append", metavar="PRODUCT:ROLE",
                   help="the role kept where policy keeps two roles apart (repeatable)")
    p.add_argument("--out", metavar="PLAN.json", help="write the plan for identity merge")
    p = cli.command(group, "merge", cmd_merge, "apply a merge plan written by merge-plan")
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--reason", metavar="TEXT", help="kept in the audit trail")
    p = cli.command(group, "unmerge", cmd_unmerge,
                    "split a merge back into the accounts it combined")
    p.add_argument("survivor", metavar="SURVIVOR")
    p.add_argument("--event", required=True, metavar="ID",
                   help="the merge's audit event id (or sequence number)")
    p.add_argument("--reason", metavar="TEXT", help="kept in the audit trail")
    p = cli.command(group, "suggest", cmd_suggest,
                    "list accounts that probably belong to one person, with reasons")
    p.add_argument("--org", metavar="CODE", help="only accounts of this organisation")
    p.add_argument("--limit", type=int, metavar="N", help="show the N best")
