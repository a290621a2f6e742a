"""Shared pieces of the CLI: the parser class, output, the acting operator, secrets on stdin."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from services.auth import Session
    from services.authz import Operator
    from services.context import Context

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
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


def password_sign_in(ctx: Context, *, with_otp: bool = True) -> Session:
    """Sign in from GATEHOUSE_OPERATOR and GATEHOUSE_PASSWORD, and GATEHOUSE_OTP if set."""
    from services.auth import sign_in
    from services.errors import InvalidInput

    login = os.environ.get("GATEHOUSE_OPERATOR", "")
    password = os.environ.get("GATEHOUSE_PASSWORD")
    if not login or password is None:
        raise InvalidInput("This command acts as a signed-in person: set GATEHOUSE_OPERATOR to "
                           "your email and GATEHOUSE_PASSWORD to your password.")
    otp = (os.environ.get("GATEHOUSE_OTP") or None) if with_otp else None
    return sign_in(ctx, login, password, otp=otp)


def operator(ctx: Context, *, enrolling: bool = False) -> Operator:
    """The acting person.

    GATEHOUSE_SESSION (from ``python main.py signin``) names a live command-line session;
    otherwise the person signs in from GATEHOUSE_OPERATOR and GATEHOUSE_PASSWORD, with
    GATEHOUSE_OTP when they have an authenticator. A TOTP code works once, so a script running
    several commands signs in once and passes the session on. Someone whose enrolment is
    overdue gets no further than the enrolment commands (``enrolling``).
    """
    from services.auth import MfaStep
    from services.authz import RESTRICTED_MESSAGES, Restriction
    from services.errors import InvalidInput, PermissionDenied

    token = os.environ.get("GATEHOUSE_SESSION")
    if token:
        from services.mfa.cli_session import resume_cli_session

        op = resume_cli_session(ctx, token)
    else:
        session = password_sign_in(ctx)
        if session.mfa is MfaStep.CODE_NEEDED:
            raise InvalidInput("Your account uses two-step verification: set GATEHOUSE_OTP to "
                               "the code your authenticator app shows now, or sign in once "
                               "with python main.py signin and pass GATEHOUSE_SESSION on.")
        op = session.operator
    if op.restriction is Restriction.ENROL_ONLY and not enrolling:
        raise PermissionDenied(RESTRICTED_MESSAGES[Restriction.ENROL_ONLY])
    return op


def read_code(prompt: str = "Code from your authenticator app") -> str:
    """A one-time code from stdin (first line) or, at a terminal, typed once without echo."""
    if sys.stdin is None or not sys.stdin.isatty():
        line = sys.stdin.readline() if sys.stdin else ""
        return line.strip()
    return getpass.getpass(f"{prompt}: ").strip()


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


class Groups:
    """Adds command groups and commands to the top-level parser; each module registers its own."""

    def __init__(self, groups: Any, common: argparse.ArgumentParser) -> None:
        self._groups = groups
        self._common = common

    def command(self, group: Any, name: str, handler: Handler,
                help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(
            name, help=help_text, description=help_text, parents=[self._common])
        p.set_defaults(handler=handler)
        return p

    def top(self, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        return self.command(self._groups, name, handler, help_text)

    def group(self, name: str, help_text: str) -> Any:
        p = self._groups.add_parser(name, help=help_text, description=help_text)
        return p.add_subparsers(dest="action", metavar="ACTION", required=True,
                                parser_class=Parser)
