"""CLI: the audit trail — verify, checkpoint, export."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from services.cli.common import Groups, emit, open_ctx, operator


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from services.audit import Checkpoint

    checkpoint = None
    if args.checkpoint:
        checkpoint = _read_checkpoint(Path(args.checkpoint), Checkpoint)
    ctx = open_ctx(args)
    try:
        with ctx.store.read() as conn:
            result = ctx.audit.verify(conn, checkpoint)
    finally:
        ctx.close()
    text = (f"Audit trail intact: {result.count} events verified." if result.ok else
            f"Audit trail NOT intact at event {result.first_bad_seq}: {result.reason}.")
    emit(args, result.as_dict(), text)
    return 0 if result.ok else 1


def _read_checkpoint(path: Path, kind: Any) -> Any:
    from services.errors import InvalidInput

    try:
        return kind.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"Cannot read the checkpoint {path}: {exc.strerror}.") from None
    except (ValueError, KeyError):
        raise InvalidInput(f"{path} is not a Gatehouse audit checkpoint.") from None


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    from services.errors import CheckFailed

    ctx = open_ctx(args)
    try:
        with ctx.store.read() as conn:
            try:
                checkpoint = ctx.audit.checkpoint(conn)
            except ValueError as exc:
                raise CheckFailed(f"No checkpoint written: the trail is not intact ({exc}).") \
                    from None
    finally:
        ctx.close()
    Path(args.file).write_text(checkpoint.to_json() + "\n", encoding="utf-8")
    emit(args, {"file": args.file, "count": checkpoint.count, "head_hash": checkpoint.head_hash},
         f"Checkpoint of {checkpoint.count} events written to {args.file}; keep it outside "
         "the store.")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    from services.audit_export import export_audit

    ctx = open_ctx(args)
    try:
        with contextlib.ExitStack() as stack:
            out = (stack.enter_context(open(args.out, "w", encoding="utf-8", newline=""))
                   if args.out else sys.stdout)
            count = export_audit(ctx, operator(ctx), args.format, out)
    finally:
        ctx.close()
    if args.out:
        emit(args, {"file": args.out, "events": count, "format": args.format},
             f"Exported {count} events to {args.out}.")
    return 0


def register(cli: Groups) -> None:
    audit = cli.group("audit", "the tamper-evident audit trail")
    p = cli.command(audit, "verify", cmd_audit_verify,
                    "check the chain (exit 1 names the first bad event)")
    p.add_argument("--checkpoint", metavar="FILE", help="also detect events cut off the end")
    p = cli.command(audit, "checkpoint", cmd_audit_checkpoint,
                    "write the count and head of the trail to a file you keep")
    p.add_argument("file", metavar="FILE")
    p = cli.command(audit, "export", cmd_audit_export, "export events (CSV cells are formula-safe)")
    p.add_argument("--format", required=True, choices=("csv", "jsonl"))
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")

