"""CLI: password resets — request, force, complete — and the DES ACCESS mailbox intake queue."""

from __future__ import annotations

import argparse
import os

from services.cli.common import Groups, UsageError, emit, open_ctx, operator, read_secret, table


def cmd_reset_request(args: argparse.Namespace) -> int:
    from services.reset import request_reset

    ctx = open_ctx(args)
    try:
        answer = request_reset(ctx, args.email)
    finally:
        ctx.close()
    emit(args, {"requested": True, "message": answer}, answer)
    return 0


def cmd_reset_force(args: argparse.Namespace) -> int:
    from services.reset import force_reset

    ctx = open_ctx(args)
    try:
        force_reset(ctx, operator(ctx), args.email, reason=args.reason or "")
    finally:
        ctx.close()
    emit(args, {"forced": args.email},
         f"{args.email} must now set a new password; a reset code was queued for their "
         "stored address (python main.py mail send-pending delivers it).")
    return 0


def cmd_reset_complete(args: argparse.Namespace) -> int:
    from services.errors import InvalidInput
    from services.reset import complete_reset

    token = args.token or os.environ.get("GATEHOUSE_RESET_CODE", "")
    if not token:
        raise InvalidInput("Give the reset code from the mail with --token (or in "
                           "GATEHOUSE_RESET_CODE).")
    password = read_secret("New password")
    ctx = open_ctx(args)
    try:
        subject = complete_reset(ctx, token, password, otp=os.environ.get("GATEHOUSE_OTP"))
    finally:
        ctx.close()
    emit(args, {"completed": True, "subject": subject},
         "Your password has been changed. Sign in with it now.")
    return 0


def cmd_reset_intake(args: argparse.Namespace) -> int:
    from services.intake import ingest
    from services.intake_imap import ingest_imap

    if (args.path is None) == (not args.imap):
        raise UsageError("give either PATH (a saved mailbox) or --imap (the mailbox server "
                         "in the intake_imap_* settings), not both")
    ctx = open_ctx(args)
    try:
        report = ingest_imap(ctx, operator(ctx)) if args.imap else \
            ingest(ctx, operator(ctx), args.path)
    finally:
        ctx.close()
    data = report.as_dict()
    emit(args, data, "Intake: " + ", ".join(f"{k} {v}" for k, v in data.items()
                                            if isinstance(v, int)))
    return 0


def cmd_reset_queue(args: argparse.Namespace) -> int:
    from services.intake import list_queue

    ctx = open_ctx(args)
    try:
        items = list_queue(ctx, operator(ctx), status=None if args.all else "pending")
    finally:
        ctx.close()
    rows = [item.as_dict() for item in items]
    emit(args, {"count": len(rows), "items": rows},
         table([(r["id"], r["version"], r.get("from_address") or "?",
                 ",".join(r.get("flags") or []) or "-", r["status"]) for r in rows],
               ("id", "version", "from", "flags", "status")))
    return 0


def cmd_reset_approve(args: argparse.Namespace) -> int:
    from services.intake import approve

    ctx = open_ctx(args)
    try:
        approve(ctx, operator(ctx), args.id, args.version, force=args.force)
    finally:
        ctx.close()
    emit(args, {"approved": args.id}, f"Request {args.id} approved; a reset code was queued.")
    return 0


def cmd_reset_reject(args: argparse.Namespace) -> int:
    from services.intake import reject

    ctx = open_ctx(args)
    try:
        reject(ctx, operator(ctx), args.id, args.version, args.reason)
    finally:
        ctx.close()
    emit(args, {"rejected": args.id}, f"Request {args.id} rejected.")
    return 0


def register(cli: Groups) -> None:
    reset = cli.group("reset", "password resets and the DES ACCESS mailbox queue")
    p = cli.command(reset, "request", cmd_reset_request,
                    "ask for a reset code by mail (the same answer whether or not the address "
                    "has an account)")
    p.add_argument("email", metavar="EMAIL")
    p = cli.command(reset, "force", cmd_reset_force,
                    "make someone set a new password (their current one stops working)")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--reason", metavar="TEXT")
    p = cli.command(reset, "complete", cmd_reset_complete,
                    "set a new password with a reset code (new password on standard input)")
    p.add_argument("--token", metavar="CODE",
                   help="the code from the mail (or GATEHOUSE_RESET_CODE, which keeps it out of "
                        "the shell history)")
    p = cli.command(reset, "intake", cmd_reset_intake,
                    "read DES ACCESS reset requests from .eml files, an mbox or a Maildir, "
                    "or from the mailbox server")
    p.add_argument("path", metavar="PATH", nargs="?",
                   help="a saved .eml file, a folder of them, an mbox file or a Maildir")
    p.add_argument("--imap", action="store_true",
                   help="read the folder named by the intake_imap_* settings (over TLS 1.2+, "
                        "read-only) instead of PATH")
    p = cli.command(reset, "queue", cmd_reset_queue, "list the intake queue")
    p.add_argument("--all", action="store_true", help="include decided requests")
    p = cli.command(reset, "approve", cmd_reset_approve,
                    "approve a queued request: the person gets a reset code")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--version", type=int, required=True, metavar="V")
    p.add_argument("--force", action="store_true",
                   help="approve even though the request is flagged (spoofed or malformed)")
    p = cli.command(reset, "reject", cmd_reset_reject, "reject a queued request with a reason")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--version", type=int, required=True, metavar="V")
    p.add_argument("--reason", required=True, metavar="TEXT")
