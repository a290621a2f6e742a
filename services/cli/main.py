"""The command-line front end: every feature, scriptable, with ``--json`` and stable exit codes.

Exit codes (DESIGN.md, CLI contract): 0 success or compliant, 1 checked and found wanting,
2 bad input or usage — with a one-line reason on stderr and never a traceback. Heavy modules
are imported inside the handlers so that ``--help`` starts fast. Each command group lives in a
module of its own with a ``register`` function.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from services.cli import (
    account,
    audit,
    check,
    identity,
    mail,
    mfa,
    migrate,
    password,
    profile,
    reset,
    session,
    setup,
    users,
)
from services.cli.common import Groups, Parser, UsageError

GROUPS = (setup, users, identity, profile, account, password, reset, mail, audit, check, mfa,
          session, migrate)


def build_parser() -> argparse.ArgumentParser:
    # --json is accepted before or after the command; SUPPRESS keeps a sub-command's parser
    # from resetting a --json given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document")
    parser = Parser(prog="python main.py", description="Gatehouse: identities, migration and "
                     "security compliance. With no command, the desktop application opens.")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--db", metavar="URL", help="sqlite:///PATH or "
                        "postgresql+psycopg://USER@HOST/DB (default: GATEHOUSE_DB, else the "
                        "embedded store in the user data directory)")
    parser.add_argument("--key-file", metavar="FILE", help="use this passphrase-protected key "
                        "file instead of the OS keyring (passphrase in GATEHOUSE_KEY_PASSPHRASE)")
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    cli = Groups(groups, common)
    for module in GROUPS:
        module.register(cli)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return build_parser().parse_args(_attach_codes(argv))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        if not getattr(args, "handler", None):
            raise UsageError("name a command (see: python main.py --help)")
        return int(args.handler(args))
    except UsageError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gatehouse: interrupted; nothing further was changed.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Whoever read the output stopped early (``| head``). The command itself finished,
        # so "nothing was changed" would be false: stop writing, quietly, as Unix tools do.
        # (The store and mail connections report their own broken pipes as other errors.)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # else the flush at exit fails once more
        return 0
    except Exception as exc:  # every error a person reads is one line, never a traceback
        return _report(exc)


# Options whose value is a code from a mail. A code is URL-safe base64, so one in 64 begins
# with "-", which argparse would otherwise take for an option and refuse ("expected one
# argument") although the person pasted exactly what the mail said.
CODE_OPTIONS = frozenset({"--token"})


def _attach_codes(argv: Sequence[str]) -> list[str]:
    """``--token -Xy…`` → ``--token=-Xy…``: the word after a code option is its value."""
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            out.append(word)
            out.extend(words)
            break
        if word in CODE_OPTIONS:
            value = next(words, None)
            out.append(word if value is None else f"{word}={value}")
        else:
            out.append(word)
    return out


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
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"gatehouse: {exc.strerror or exc}{where}; nothing was changed.", file=sys.stderr)
        return 2
    if os.environ.get("GATEHOUSE_DEBUG"):
        raise exc
    print(f"gatehouse: internal error ({type(exc).__name__}: {exc}); nothing further was "
          "changed. Please report this, with GATEHOUSE_DEBUG=1 output.", file=sys.stderr)
    return 2
