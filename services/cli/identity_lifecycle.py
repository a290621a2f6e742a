"""CLI: the ``identity`` group's delete, restore and claim (registered by ``identity``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.cli.common import Groups, emit, open_ctx, operator


def cmd_identity_delete(args: argparse.Namespace) -> int:
    from services.identity_lifecycle import delete_identity

    ctx = open_ctx(args)
    try:
        detail = delete_identity(ctx, operator(ctx), args.email, reason=args.reason,
                                 expected_version=args.expect_version)
        until = ctx.now() + ctx.identity_policy.reuse_cooling_off
    finally:
        ctx.close()
    emit(args, detail.as_dict(), f"Deleted {detail.login_id} ({detail.subject}). It can be "
                                 f"restored; its login ID is held until {until:%Y-%m-%d}.")
    return 0


def cmd_identity_restore(args: argparse.Namespace) -> int:
    from services.identity_lifecycle import restore_identity

    ctx = open_ctx(args)
    try:
        detail = restore_identity(ctx, operator(ctx), args.email, reason=args.reason)
    finally:
        ctx.close()
    emit(args, detail.as_dict(), f"Restored {detail.login_id} ({detail.subject}) as "
                                 f"{detail.status}.")
    return 0


def _confirmed(args: argparse.Namespace, warning: str) -> bool:
    if args.yes:
        return True
    if sys.stdin is None or not sys.stdin.isatty():
        return False
    print(warning, file=sys.stderr)
    return input("Give this login ID to a new identity? [y/N] ").strip().lower() in ("y", "yes")


def cmd_identity_claim(args: argparse.Namespace) -> int:
    from services.identity_lifecycle import claim_login_id, preview_claim

    ctx = open_ctx(args)
    try:
        op = operator(ctx)
        preview = preview_claim(ctx, op, args.email)
        acknowledged = preview.claimable and _confirmed(args, preview.warning())
        detail = claim_login_id(ctx, op, args.email, args.given, args.family, args.org,
                                acknowledged=acknowledged,
                                allow_flagged=args.allow_confusable)
    finally:
        ctx.close()
    document: dict[str, Any] = {"identity": detail.as_dict(), "claim": preview.as_dict()}
    emit(args, document, f"{preview.warning()}\nCreated {detail.login_id} with the new subject "
                         f"id {detail.subject}; they must set a password before first use.")
    return 0


def add_commands(cli: Groups, group: Any) -> None:
    p = cli.command(group, "delete", cmd_identity_delete, "delete an identity (restorable); "
                    "its login ID is held for the cooling-off")
    p.add_argument("email", help="the login ID or subject id")
    p.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
    p.add_argument("--expect-version", type=int, metavar="N",
                   help="refuse if the identity changed since you read version N")
    p = cli.command(group, "restore", cmd_identity_restore,
                    "give a deleted identity back intact (status, roles, password, MFA)")
    p.add_argument("email", help="the login ID it held, or its subject id")
    p.add_argument("--reason", default="", help="why (recorded in the audit trail)")
    p = cli.command(group, "claim", cmd_identity_claim,
                    "give a deleted account's login ID to a new identity after the cooling-off "
                    "(new subject id; nothing inherited)")
    p.add_argument("email")
    p.add_argument("--given", required=True, help="given name")
    p.add_argument("--family", required=True, help="family name")
    p.add_argument("--org", required=True, help="organisation short code")
    p.add_argument("--yes", action="store_true",
                   help="confirm you have read who held the ID before (asked at a terminal)")
    p.add_argument("--allow-confusable", action="store_true",
                   help="accept an address with look-alike characters after checking it")
