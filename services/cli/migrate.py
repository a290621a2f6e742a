"""CLI: moving legacy accounts in — the plan (a dry run), merge decisions and the sign-off."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from services.cli.common import Groups, emit, open_ctx, operator, table


def _summary(plan: dict[str, Any], out: str | None) -> str:
    counts = plan["counts"]
    rows, ids = counts["rows"], counts["identities"]
    lines = [
        f"Plan {plan['plan_id']} for {plan['source']['name']} "
        f"(SHA-256 {plan['source']['sha256'][:16]}…, {plan['source']['format']}, "
        f"{plan['source']['encoding']})",
        f"Rows: {rows['total']:,} — {rows['create']:,} become identities, "
        f"{rows['auto_merged']:,} merged automatically into them, {rows['rejected']:,} "
        f"rejected, {rows['already_migrated']:,} already migrated, {rows['collision']:,} "
        "collide with identities in the store.",
        f"Identities to create: {ids['create']:,} ({ids['active']:,} active, "
        f"{ids['disabled']:,} disabled; {ids['lso']:,} LSOs who must enrol MFA).",
        f"Suggested merges to decide: {counts['suggested_merges']:,}. Conflicts: "
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts["conflicts"].items())
        + ".",
    ]
    if counts["rejected_by_reason"]:
        lines.append("Rejected rows by reason: " + ", ".join(
            f"{k.replace('_', ' ')} {v:,}" for k, v in counts["rejected_by_reason"].items()) + ".")
    lines.append("")
    lines.append(table([(o["code"], o["size"], f"{o['rows']:,}", f"{o['rejected']:,}",
                         f"{o['create']:,}", f"{o['disabled']:,}", f"{o['lso']:,}",
                         "yes" if o["in_store"] else "created by the run")
                        for o in plan["organisations"]],
                       ("ORG", "SIZE", "ROWS", "REJECTED", "IDENTITIES", "DISABLED", "LSOS",
                        "IN STORE")))
    lines.append("")
    lines.append(f"Plan written to {out}, its identities to {_identities_name(out)} (keep "
                 "them together: the run reads the identities from there instead of "
                 "re-reading the export); review the plan, decide the suggested merges "
                 "(migrate decide) and sign it off (migrate sign-off)." if out else
                 "Nothing was written; add --out PLAN.json to keep the plan for sign-off.")
    return "\n".join(lines)


def _identities_name(out: str) -> str:
    from services.migration.plan import identities_path

    return identities_path(Path(out)).name


def cmd_plan(args: argparse.Namespace) -> int:
    from policies.migration_policy import load_migration_policy
    from services.migration.plan import build_plan_with_identities, write_plan

    policy = load_migration_policy(Path(args.policy) if args.policy else None)
    ctx = open_ctx(args)
    try:
        plan, identities = build_plan_with_identities(ctx, operator(ctx), Path(args.file),
                                                      policy, fmt=args.format)
    finally:
        ctx.close()
    if args.out:
        write_plan(Path(args.out), plan, identities)
    emit(args, plan, _summary(plan, args.out))
    return 0


def _load_for_change(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    from services.migration.plan import load_plan

    path = Path(args.plan)
    return path, load_plan(path)


def cmd_decide(args: argparse.Namespace) -> int:
    from services.errors import InvalidInput
    from services.migration.plan import decide, write_plan

    if not (args.confirm or args.reject or args.confirm_all or args.reject_all):
        raise InvalidInput("Name the suggested merges to decide: --confirm ID, --reject ID, "
                           "--confirm-all or --reject-all (for those still undecided).")
    if args.confirm_all and args.reject_all:
        raise InvalidInput("Choose --confirm-all or --reject-all, not both.")
    path, plan = _load_for_change(args)
    ctx = open_ctx(args)
    try:
        op = operator(ctx)
        changed = decide(plan, op, ctx.now(), confirm=args.confirm or (),
                         reject=args.reject or (), confirm_all=args.confirm_all,
                         reject_all=args.reject_all)
    finally:
        ctx.close()
    write_plan(path, plan)
    undecided = sum(1 for s in plan["suggested_merges"] if s["decision"] is None)
    emit(args, {"changed": changed, "undecided": undecided},
         f"{changed} decisions recorded in {path.name}; {undecided} suggested merges undecided.")
    return 0


def cmd_sign_off(args: argparse.Namespace) -> int:
    from services.audit import Change
    from services.migration.plan import sign_off, write_plan

    path, plan = _load_for_change(args)
    ctx = open_ctx(args)
    try:
        op = operator(ctx)
        record = sign_off(plan, op, ctx.now())
        with ctx.store.write() as conn:
            ctx.record(conn, op, "migration.sign_off", "migration_plan", plan["plan_id"],
                       change=Change(after={"source_sha256": plan["source"]["sha256"],
                                            "plan_digest": record["digest"]}))
    finally:
        ctx.close()
    write_plan(path, plan)
    emit(args, record, f"{path.name} signed off by {record['by']} at {record['at']}; it can "
                       "now be run.")
    return 0


def _source_for(args: argparse.Namespace, plan: dict[str, Any], plan_path: Path) -> Path:
    if args.source:
        return Path(args.source)
    return plan_path.with_name(plan["source"]["name"])


class _Interrupt:
    """Ctrl-C stops the run after the batch in hand (it commits or rolls back whole); a
    second Ctrl-C stops at once, which is just as safe: the open batch rolls back."""

    def __init__(self) -> None:
        self.asked = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        sys.stderr.write("\nStopping after the current batch; run the same command again to "
                         "resume.\n")

    def cancelled(self) -> bool:
        return self.asked


class _ProgressLine:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.5 and done < total:
            return
        self.last = now
        elapsed = now - self.started
        eta = elapsed / done * (total - done) if done else 0.0
        sys.stderr.write(f"Migrated {done:,} of {total:,} identities "
                         f"({100 * done // max(total, 1)}%), about {eta:.0f} s left.\n")
        sys.stderr.flush()


def cmd_run(args: argparse.Namespace) -> int:
    from policies.migration_policy import load_migration_policy
    from services.migration.plan import identities_path, load_plan
    from services.migration.run import run_migration

    plan_path = Path(args.plan)
    plan = load_plan(plan_path)
    policy = load_migration_policy(Path(args.policy) if args.policy else None)
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt)
    ctx = open_ctx(args)
    try:
        summary = run_migration(ctx, operator(ctx), plan, _source_for(args, plan, plan_path),
                                policy=policy, progress=_ProgressLine(),
                                cancelled=interrupt.cancelled,
                                identities=identities_path(plan_path))
    finally:
        signal.signal(signal.SIGINT, previous)
        ctx.close()
    s = summary
    if s.already_done:
        text = (f"Plan {s.plan_id} was already run to completion; nothing changed "
                f"({s.batches_done} of {s.total_batches} batches done).")
    elif s.cancelled:
        text = (f"Stopped: {s.batches_done} of {s.total_batches} batches done. The store is "
                "consistent; run the same command again to resume where it stopped.")
    else:
        text = (f"Plan {s.plan_id} done in {s.seconds:.1f} s: {s.created:,} identities "
                f"created, {s.linked:,} linked, {s.skipped:,} skipped, {s.merged:,} merges "
                f"applied ({s.merges_refused:,} refused), {s.notices:,} reset notices queued in "
                "the outbox (send them with: python main.py mail send).")
    emit(args, s.as_dict(), text)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from services.migration.tracking import run_status

    ctx = open_ctx(args)
    try:
        runs = run_status(ctx, operator(ctx))
    finally:
        ctx.close()
    text = table([(r["plan_id"][:8], r["source"], r["status"],
                   f"{r['batches_done']}/{r['batches_total']}",
                   f"{r['outcomes']['created']:,}", f"{r['outcomes']['linked']:,}",
                   f"{r['outcomes']['skipped']:,}", f"{r['outcomes']['merged_away']:,}")
                  for r in runs],
                 ("PLAN", "SOURCE", "STATUS", "BATCHES", "CREATED", "LINKED", "SKIPPED",
                  "MERGED AWAY")) if runs else "No migration has been run in this store yet."
    emit(args, {"runs": runs}, text)
    return 0


def _progress_by_month(args: argparse.Namespace) -> int:
    from services.migration.monthly import completion_by_month

    ctx = open_ctx(args)
    try:
        rows = completion_by_month(ctx, operator(ctx))
    finally:
        ctx.close()
    text = table([(r.month, r.size_band, f"{r.migrated:,}", f"{r.completed:,}",
                   f"{r.migrated_to_date:,}", f"{r.completed_to_date:,}",
                   f"{r.completed_percent:.1f} %") for r in rows],
                 ("MONTH", "SIZE", "MIGRATED", "COMPLETED", "MIGRATED TO DATE",
                  "COMPLETED TO DATE", "DONE")) if rows else "No migration has been run yet."
    emit(args, {"months": [r.as_dict() for r in rows]}, text)
    return 0


def cmd_progress(args: argparse.Namespace) -> int:
    from services.migration.tracking import completion, totals

    if args.by_month:
        return _progress_by_month(args)
    ctx = open_ctx(args)
    try:
        rows = completion(ctx, operator(ctx))
    finally:
        ctx.close()
    total = totals(rows)
    text = table([(r.organisation, r.size_band, f"{r.migrated:,}", f"{r.completed:,}",
                   f"{r.pending:,}", f"{r.expired:,}", f"{r.disabled:,}") for r in rows],
                 ("ORG", "SIZE", "MIGRATED", "COMPLETED", "PENDING", "EXPIRED", "DISABLED"))
    text += (f"\n\n{total['completed']:,} of {total['migrated']:,} migrated identities have set "
             f"a new password; {total['pending']:,} pending, {total['expired']:,} with an "
             "expired code (send reminders with: python main.py migrate remind).")
    emit(args, {"organisations": [r.as_dict() for r in rows], "totals": total}, text)
    return 0


def cmd_remind(args: argparse.Namespace) -> int:
    from services.migration.tracking import remind

    ctx = open_ctx(args)
    try:
        result = remind(ctx, operator(ctx))
    finally:
        ctx.close()
    emit(args, result.as_dict(),
         f"{result.reminded:,} reminders queued with new reset codes; {result.rate_limited:,} "
         "not reminded yet (reminded too recently or too often).")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from services.errors import InvalidInput
    from services.migration.plan import load_plan
    from services.migration.report import build_report, write_csv, write_html

    if not (args.csv or args.html):
        raise InvalidInput("Say where to write the report: --csv FILE and/or --html FILE.")
    plan = load_plan(Path(args.plan))
    ctx = open_ctx(args)
    try:
        report = build_report(ctx, operator(ctx), plan)
    finally:
        ctx.close()
    if args.csv:
        write_csv(report, Path(args.csv))
    if args.html:
        write_html(report, Path(args.html))
    emit(args, report.counts(), f"Report written: {len(report.rejected):,} rejected rows, "
         f"{len(report.merges):,} merges, {len(report.organisations):,} organisations.")
    return 0


def register(cli: Groups) -> None:
    group = cli.group("migrate", "move legacy accounts into the identity store")
    p = cli.command(group, "plan", cmd_plan, "dry run: validate a legacy export, group it into "
                    "identities and report; writes nothing to the store")
    p.add_argument("file", metavar="FILE", help="the legacy export (CSV or JSON Lines)")
    p.add_argument("--out", metavar="PLAN.json", help="write the plan file for review and "
                   "sign-off")
    p.add_argument("--format", choices=("csv", "jsonl"), help="the export's format (default: "
                   "detected)")
    p.add_argument("--policy", metavar="TOML", help=argparse.SUPPRESS)  # tests, reviews

    p = cli.command(group, "decide", cmd_decide, "confirm or reject suggested merges in a plan")
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--confirm", nargs="+", metavar="ID", help="suggested merges to apply")
    p.add_argument("--reject", nargs="+", metavar="ID", help="suggested merges to leave apart")
    p.add_argument("--confirm-all", action="store_true", help="confirm every undecided one")
    p.add_argument("--reject-all", action="store_true", help="reject every undecided one")

    p = cli.command(group, "sign-off", cmd_sign_off, "record that you reviewed the plan and "
                    "approve running it (platform admin)")
    p.add_argument("plan", metavar="PLAN.json")

    p = cli.command(group, "run", cmd_run, "run (or resume) a signed-off plan: create the "
                    "identities, reset codes and notices, apply the confirmed merges")
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--source", metavar="FILE", help="the export the plan was made from "
                   "(default: the file of that name beside the plan)")
    p.add_argument("--policy", metavar="TOML", help=argparse.SUPPRESS)

    cli.command(group, "status", cmd_status, "the runs in this store: batches done, outcomes")
    p = cli.command(group, "progress", cmd_progress, "completion per organisation and size "
                    "band: passwords set, pending, expired codes")
    p.add_argument("--by-month", action="store_true",
                   help="month by month per size band instead, as the cleansing reports show it")
    cli.command(group, "remind", cmd_remind, "re-issue expired migration reset codes and queue "
                "reminders (rate-limited)")
    p = cli.command(group, "report", cmd_report, "write the report of a plan and its run: "
                    "rejected rows, merges, totals per organisation")
    p.add_argument("plan", metavar="PLAN.json")
    p.add_argument("--csv", metavar="FILE")
    p.add_argument("--html", metavar="FILE")
