"""CLI: setting up a store, demo data, the master key, the terms."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from services.cli.common import Groups, emit, open_ctx, operator, read_secret


def cmd_init(args: argparse.Namespace) -> int:
    from services.identity import normalise_email
    from services.setup import check_admin_password, init_admin

    password = read_secret("Password for the first platform admin")
    # Refuse bad input before the store and its master key exist: a refusal leaves nothing.
    normalise_email(args.admin)
    check_admin_password(args.admin, password, given_name=args.given, family_name=args.family,
                         org_code=args.org, org_name=args.org_name)
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


def cmd_demo_legacy(args: argparse.Namespace) -> int:
    from services.migration.legacy_export import write_export_file

    summary = write_export_file(Path(args.out), users=args.users, seed=args.seed,
                                fmt=args.format, duplicate_rate=args.duplicates,
                                broken_rate=args.broken)
    emit(args, {"file": args.out, "format": args.format, "seed": args.seed,
                **summary.as_dict()},
         f"Wrote a synthetic legacy export of {summary.rows:,} rows to {args.out} (seed "
         f"{args.seed}): {summary.as_dict()['duplicate_rows']:,} duplicate accounts, "
         f"{summary.as_dict()['broken_rows']:,} broken rows.")
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


def register(cli: Groups) -> None:
    p = cli.top("init", cmd_init, "create the store and its first platform admin "
            "(password from standard input)")
    p.add_argument("--admin", required=True, metavar="EMAIL")
    p.add_argument("--given", default="Platform")
    p.add_argument("--family", default="Admin")
    p.add_argument("--org", default="XOS", metavar="CODE")
    p.add_argument("--org-name", default="Xoserve", metavar="NAME")

    demo = cli.group("demo-data", "synthetic data for demonstrations and tests")
    p = cli.command(demo, "seed", cmd_demo_seed, "add seeded synthetic organisations and users")
    p.add_argument("--users", type=int, default=200, metavar="N")
    p.add_argument("--seed", type=int, default=1, metavar="S")

    p = cli.command(demo, "legacy", cmd_demo_legacy, "write a synthetic legacy user export "
                    "(duplicates, broken rows; deterministic for a seed) to migrate")
    p.add_argument("--users", type=int, default=1000, metavar="N", help="rows to write")
    p.add_argument("--seed", type=int, default=1, metavar="S")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    p.add_argument("--duplicates", type=float, default=0.08, metavar="RATE",
                   help="share of rows that are another account of someone (default 0.08)")
    p.add_argument("--broken", type=float, default=0.02, metavar="RATE",
                   help="share of rows that are broken (default 0.02)")

    key = cli.group("key", "the store's master key (for a shared store)")
    p = cli.command(key, "export", cmd_key_export, "write the master key to a passphrase-protected "
            "file (passphrase in GATEHOUSE_EXPORT_PASSPHRASE)")
    p.add_argument("file", metavar="FILE")
    p = cli.command(key, "import", cmd_key_import,
                    "put a key file's master key into this computer's keyring "
                    "(passphrase in GATEHOUSE_IMPORT_PASSPHRASE)")
    p.add_argument("file", metavar="FILE")

    terms = cli.group("terms", "the sign-in terms")
    cli.command(terms, "show", cmd_terms_show, "print the terms text and version")
