"""The command-line front end: every feature, scriptable, with ``--json`` and stable exit codes.

Exit codes (DESIGN.md, CLI contract): 0 success or compliant, 1 checked and found wanting,
2 bad input or usage — with a one-line reason on stderr and never a traceback. Heavy modules
are imported inside the handlers so that ``--help`` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: python main.py {self._sub_name()}--help)")

    def _sub_name(self) -> str:
        parts = self.prog.split()[2:] if self.prog.startswith("python main.py") else []
        return "".join(p + " " for p in parts)


# ---- output --------------------------------------------------------------------------------


def emit(args: argparse.Namespace, document: Any, text: str) -> None:
    if args.json:
        json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
    elif text:
        print(text)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---- shared steps --------------------------------------------------------------------------


def open_ctx(args: argparse.Namespace, *, create: bool = False) -> Context:
    from services.context import open_context
    from services.vault import KeyAccess

    return open_context(args.db, access=KeyAccess.from_env(args.key_file), create=create)


def operator(ctx: Context) -> Operator:
    """The acting person, signed in from GATEHOUSE_OPERATOR and GATEHOUSE_PASSWORD."""
    from services.auth import sign_in
    from services.errors import InvalidInput

    login = os.environ.get("GATEHOUSE_OPERATOR", "")
    password = os.environ.get("GATEHOUSE_PASSWORD")
    if not login or password is None:
        raise InvalidInput("This command acts as a signed-in person: set GATEHOUSE_OPERATOR to "
                           "your email and GATEHOUSE_PASSWORD to your password.")
    return sign_in(ctx, login, password).operator


def read_secret(prompt: str) -> str:
    """A secret from stdin (first line) or, at a terminal, typed twice without echo."""
    if sys.stdin is None or not sys.stdin.isatty():
        line = sys.stdin.readline() if sys.stdin else ""
        return line.rstrip("\r\n")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass(f"{prompt} (again): ") != first:
        from services.errors import InvalidInput

        raise InvalidInput("The two entries differ; nothing was changed. Run the command again.")
    return first


# ---- commands ------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from services.setup import init_admin

    password = read_secret("Password for the first platform admin")
    ctx = open_ctx(args, create=True)
    try:
        admin = init_admin(ctx, args.admin, password, given_name=args.given,
                           family_name=args.family, org_code=args.org, org_name=args.org_name)
    finally:
        ctx.close()
    emit(args, {"store_id": ctx.store_id, "admin": admin.as_dict(),
                "database": ctx.store.display_url},
         f"Store ready at {ctx.store.display_url}; first platform admin: {admin.login_id}")
    return 0


def cmd_demo_seed(args: argparse.Namespace) -> int:
    from services.demo import seed

    ctx = open_ctx(args)
    try:
        result = seed(ctx, operator(ctx), users=args.users, seed=args.seed)
    finally:
        ctx.close()
    emit(args, result, f"Added {result['identities']} synthetic identities "
                       f"(seed {args.seed}).")
    return 0


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


def cmd_key_export(args: argparse.Namespace) -> int:
    from services.errors import InvalidInput
    from services.vault import key_id_of, load_master_key, write_key_file

    passphrase = os.environ.get("GATEHOUSE_EXPORT_PASSPHRASE")
    if not passphrase:
        raise InvalidInput("Set GATEHOUSE_EXPORT_PASSPHRASE to the passphrase that will protect "
                           "the exported key file (give it to the other admin separately).")
    ctx = open_ctx(args)
    ctx.close()
    from services.vault import KeyAccess

    key = load_master_key(ctx.store_id, KeyAccess.from_env(args.key_file))
    write_key_file(Path(args.file), ctx.store_id, key, passphrase)
    emit(args, {"file": args.file, "store_id": ctx.store_id, "key_id": key_id_of(key)},
         f"Master key {key_id_of(key)} exported to {args.file} (passphrase-protected).")
    return 0


def cmd_key_import(args: argparse.Namespace) -> int:
    from services.errors import InvalidInput
    from services.vault import key_id_of, keyring_set, read_key_file

    passphrase = os.environ.get("GATEHOUSE_IMPORT_PASSPHRASE")
    if not passphrase:
        raise InvalidInput("Set GATEHOUSE_IMPORT_PASSPHRASE to the key file's passphrase.")
    store_id, key = read_key_file(Path(args.file), passphrase)
    keyring_set(store_id, key)
    emit(args, {"store_id": store_id, "key_id": key_id_of(key)},
         f"Master key {key_id_of(key)} for store {store_id} is now in this computer's keyring.")
    return 0


def cmd_terms_show(args: argparse.Namespace) -> int:
    from services.terms import terms_text, terms_version

    emit(args, {"version": terms_version(), "text": terms_text()},
         f"{terms_text()}\n(version {terms_version()})")
    return 0


# ---- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # --json is accepted before or after the command; SUPPRESS keeps a sub-command's parser
    # from resetting a --json given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document")
    parser = _Parser(prog="python main.py", description="Gatehouse: identities, migration and "
                     "security compliance. With no command, the desktop application opens.")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--db", metavar="URL", help="sqlite:///PATH or "
                        "postgresql+psycopg://USER@HOST/DB (default: GATEHOUSE_DB, else the "
                        "embedded store in the user data directory)")
    parser.add_argument("--key-file", metavar="FILE", help="use this passphrase-protected key "
                        "file instead of the OS keyring (passphrase in GATEHOUSE_KEY_PASSPHRASE)")
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def sub(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(
            name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(handler=handler)
        return p

    def group_of(name: str, help_text: str) -> Any:
        p = groups.add_parser(name, help=help_text, description=help_text)
        return p.add_subparsers(dest="action", metavar="ACTION", required=True,
                                parser_class=_Parser)

    p = sub(groups, "init", cmd_init, "create the store and its first platform admin "
            "(password from standard input)")
    p.add_argument("--admin", required=True, metavar="EMAIL")
    p.add_argument("--given", default="Platform")
    p.add_argument("--family", default="Admin")
    p.add_argument("--org", default="XOS", metavar="CODE")
    p.add_argument("--org-name", default="Xoserve", metavar="NAME")

    demo = group_of("demo-data", "synthetic data for demonstrations and tests")
    p = sub(demo, "seed", cmd_demo_seed, "add seeded synthetic organisations and users")
    p.add_argument("--users", type=int, default=200, metavar="N")
    p.add_argument("--seed", type=int, default=1, metavar="S")

    users = group_of("users", "identities")
    p = sub(users, "list", cmd_users_list, "list identities (search with --search)")
    p.add_argument("--search", default="", metavar="TEXT")
    p.add_argument("--limit", type=int, metavar="N")
    p.add_argument("--sort", default="family_name",
                   choices=("family_name", "given_name", "login_id", "organisation", "status",
                            "updated_at"))
    p.add_argument("--include-deleted", action="store_true")
    p = sub(users, "show", cmd_users_show, "show one identity")
    p.add_argument("key", metavar="EMAIL", help="login ID (any case) or subject id")
    p = sub(users, "add", cmd_users_add, "add an identity (they set their own password)")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--given", required=True)
    p.add_argument("--family", required=True)
    p.add_argument("--org", required=True, metavar="CODE")
    p.add_argument("--role", action="append", metavar="PRODUCT:ROLE")
    p.add_argument("--allow-confusable", action="store_true",
                   help="accept an address flagged as mixed-script or confusable")
    p = sub(users, "disable", cmd_users_disable, "disable an identity")
    p.add_argument("key", metavar="EMAIL")
    p.add_argument("--reason", metavar="TEXT")
    p.add_argument("--version", type=int, metavar="V", help="refuse if changed since version V")
    p = sub(users, "rename", cmd_users_rename, "correct an identity's name")
    p.add_argument("key", metavar="EMAIL")
    p.add_argument("--given", required=True)
    p.add_argument("--family", required=True)
    p.add_argument("--version", type=int, required=True, metavar="V",
                   help="the version you read (a stale version is refused)")
    p = sub(users, "unlock", cmd_users_unlock, "clear a login ID's sign-in failures")
    p.add_argument("key", metavar="EMAIL")

    orgs = group_of("orgs", "organisations")
    sub(orgs, "list", cmd_orgs_list, "list organisations")
    p = sub(orgs, "add", cmd_orgs_add, "add an organisation")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--name", required=True)
    p.add_argument("--type", required=True,
                   choices=("shipper", "supplier", "gt", "igt", "cdsp", "other"))

    audit = group_of("audit", "the tamper-evident audit trail")
    p = sub(audit, "verify", cmd_audit_verify, "check the chain (exit 1 names the first bad "
            "event)")
    p.add_argument("--checkpoint", metavar="FILE", help="also detect events cut off the end")
    p = sub(audit, "checkpoint", cmd_audit_checkpoint, "write the count and head of the trail "
            "to a file you keep")
    p.add_argument("file", metavar="FILE")
    p = sub(audit, "export", cmd_audit_export, "export events (CSV cells are formula-safe)")
    p.add_argument("--format", required=True, choices=("csv", "jsonl"))
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")

    key = group_of("key", "the store's master key (for a shared store)")
    p = sub(key, "export", cmd_key_export, "write the master key to a passphrase-protected "
            "file (passphrase in GATEHOUSE_EXPORT_PASSPHRASE)")
    p.add_argument("file", metavar="FILE")
    p = sub(key, "import", cmd_key_import, "put a key file's master key into this computer's "
            "keyring (passphrase in GATEHOUSE_IMPORT_PASSPHRASE)")
    p.add_argument("file", metavar="FILE")

    terms = group_of("terms", "the sign-in terms")
    sub(terms, "show", cmd_terms_show, "print the terms text and version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            raise UsageError("name a command (see: python main.py --help)")
        return int(args.handler(args))
    except UsageError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gatehouse: interrupted; nothing further was changed.", file=sys.stderr)
        return 130
    except Exception as exc:  # every error a person reads is one line, never a traceback
        return _report(exc)


def _report(exc: Exception) -> int:
    from policies import PolicyError
    from services.errors import GatehouseError

    if isinstance(exc, GatehouseError | PolicyError):
        print(f"gatehouse: {exc}", file=sys.stderr)
        return exc.exit_code
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        print(f"gatehouse: the database refused the operation ({detail}); nothing was changed.",
              file=sys.stderr)
        return 2
    if isinstance(exc, OSError):
        print(f"gatehouse: {exc.strerror or exc} ({exc.filename or ''}); nothing was changed.",
              file=sys.stderr)
        return 2
    if os.environ.get("GATEHOUSE_DEBUG"):
        raise exc
    print(f"gatehouse: internal error ({type(exc).__name__}: {exc}); nothing further was "
          "changed. Please report this, with GATEHOUSE_DEBUG=1 output.", file=sys.stderr)
    return 2
