"""CLI: identities and organisations."""

from __future__ import annotations

import argparse
from typing import Any

from services.cli.common import Groups, emit, open_ctx, operator, table


def cmd_users_list(args: argparse.Namespace) -> int:
    from services.users import list_identities

    ctx = open_ctx(args)
    try:
        rows = list_identities(ctx, operator(ctx), search=args.search, limit=args.limit,
                               order_by=args.sort, include_deleted=args.include_deleted)
    finally:
        ctx.close()
    emit(args, {"count": len(rows), "identities": [r.as_dict() for r in rows]},
         table([(r.login_id, f"{r.given_name} {r.family_name}", r.org_code, r.status)
                for r in rows], ("login ID", "name", "org", "status"))
         + f"\n{len(rows)} identities")
    return 0


def _detail_text(d: Any) -> str:
    roles = ", ".join(f"{p}:{r}" for p, r in d.entitlements) or "none"
    flags = f"\nflags:        {', '.join(d.flags)}" if d.flags else ""
    return (f"login ID:     {d.login_id}\nemail:        {d.email}\nname:         "
            f"{d.given_name} {d.family_name}\norganisation: {d.org_name} ({d.org_code})\n"
            f"status:       {d.status}\nroles:        {roles}\nsubject:      {d.subject}\n"
            f"version:      {d.version}{flags}")


def cmd_users_show(args: argparse.Namespace) -> int:
    from services.users import get_identity

    ctx = open_ctx(args)
    try:
        detail = get_identity(ctx, operator(ctx), args.key)
    finally:
        ctx.close()
    emit(args, detail.as_dict(), _detail_text(detail))
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    from services.users import add_identity

    ctx = open_ctx(args)
    try:
        detail = add_identity(ctx, operator(ctx), args.email, args.given, args.family, args.org,
                              args.role or [], allow_flagged=args.allow_confusable)
    finally:
        ctx.close()
    emit(args, detail.as_dict(), f"Added {detail.login_id} ({detail.subject}); they must "
                                 "set a password before first use.")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from services.users import disable_identity

    ctx = open_ctx(args)
    try:
        detail = disable_identity(ctx, operator(ctx), args.key, reason=args.reason or "",
                                  expected_version=args.version)
    finally:
        ctx.close()
    emit(args, detail.as_dict(), f"Disabled {detail.login_id}.")
    return 0


def cmd_users_enable(args: argparse.Namespace) -> int:
    from services.users import enable_identity

    ctx = open_ctx(args)
    try:
        detail = enable_identity(ctx, operator(ctx), args.key, reason=args.reason or "",
                                 expected_version=args.version)
    finally:
        ctx.close()
    emit(args, detail.as_dict(), f"Enabled {detail.login_id} ({detail.status}).")
    return 0


def cmd_users_rename(args: argparse.Namespace) -> int:
    from services.users import rename_identity

    ctx = open_ctx(args)
    try:
        detail = rename_identity(ctx, operator(ctx), args.key, args.version, args.given,
                                 args.family)
    finally:
        ctx.close()
    emit(args, detail.as_dict(), f"Renamed {detail.login_id}: {detail.given_name} "
                                 f"{detail.family_name} (version {detail.version}).")
    return 0


def cmd_users_unlock(args: argparse.Namespace) -> int:
    from services.auth import unlock_signin

    ctx = open_ctx(args)
    try:
        unlock_signin(ctx, operator(ctx), args.key)
    finally:
        ctx.close()
    emit(args, {"unlocked": args.key}, f"Sign-in failures cleared for {args.key}.")
    return 0


def cmd_orgs_list(args: argparse.Namespace) -> int:
    from services.orgs import list_orgs

    ctx = open_ctx(args)
    try:
        orgs = list_orgs(ctx, operator(ctx))
    finally:
        ctx.close()
    emit(args, {"count": len(orgs), "organisations": [o.as_dict() for o in orgs]},
         table([(o.code, o.name, o.type) for o in orgs], ("code", "name", "type")))
    return 0


def cmd_orgs_add(args: argparse.Namespace) -> int:
    from services.orgs import add_org

    ctx = open_ctx(args)
    try:
        org = add_org(ctx, operator(ctx), args.code, args.name, args.type)
    finally:
        ctx.close()
    emit(args, org.as_dict(), f"Added organisation {org.code} ({org.name}).")
    return 0


def register(cli: Groups) -> None:
    users = cli.group("users", "identities")
    p = cli.command(users, "list", cmd_users_list, "list identities (search with --search)")
    p.add_argument("--search", default="", metavar="TEXT")
    p.add_argument("--limit", type=int, metavar="N")
    p.add_argument("--sort", default="family_name",
                   choices=("family_name", "given_name", "login_id", "organisation", "status",
                            "updated_at"))
    p.add_argument("--include-deleted", action="store_true")
    p = cli.command(users, "show", cmd_users_show, "show one identity")
    p.add_argument("key", metavar="EMAIL", help="login ID (any case) or subject id")
    p = cli.command(users, "add", cmd_users_add, "add an identity (they set their own password)")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--given", required=True)
    p.add_argument("--family", required=True)
    p.add_argument("--org", required=True, metavar="CODE")
    p.add_argument("--role", action="append", metavar="PRODUCT:ROLE")
    p.add_argument("--allow-confusable", action="store_true",
                   help="accept an address flagged as mixed-script or confusable")
    p = cli.command(users, "disable", cmd_users_disable, "disable an identity")
    p.add_argument("key", metavar="EMAIL")
    p.add_argument("--reason", metavar="TEXT")
    p.add_argument("--version", type=int, metavar="V", help="refuse if changed since version V")
    p = cli.command(users, "enable", cmd_users_enable, "enable a disabled identity")
    p.add_argument("key", metavar="EMAIL")
    p.add_argument("--reason", metavar="TEXT")
    p.add_argument("--version", type=int, metavar="V", help="refuse if changed since version V")
    p = cli.command(users, "rename", cmd_users_rename, "correct an identity's name")
    p.add_argument("key", metavar="EMAIL")
    p.add_argument("--given", required=True)
    p.add_argument("--family", required=True)
    p.add_argument("--version", type=int, required=True, metavar="V",
                   help="the version you read (a stale version is refused)")
    p = cli.command(users, "unlock", cmd_users_unlock, "clear a login ID's sign-in failures")
    p.add_argument("key", metavar="EMAIL")

    orgs = cli.group("orgs", "organisations")
    cli.command(orgs, "list", cmd_orgs_list, "list organisations")
    p = cli.command(orgs, "add", cmd_orgs_add, "add an organisation")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--name", required=True)
    p.add_argument("--type", required=True,
                   choices=("shipper", "supplier", "gt", "igt", "cdsp", "other"))

