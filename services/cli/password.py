"""CLI: the password policy — check a password, show or compare policies, build the
offline breached-password file.

``password check`` needs no store: the person's context comes from options. Only when
``--email`` names an identity *and* a store is configured (``--db`` or ``GATEHOUSE_DB``) are the
names and organisation read from the store, as the signed-in operator (GATEHOUSE_OPERATOR and
GATEHOUSE_PASSWORD; anyone may read their own, admins and LSOs those they manage). The check
never compares with the password history: that needs the stored hashes and runs when a
password is actually set (reset, change password).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.cli.common import Groups, emit, open_ctx, operator, table

if TYPE_CHECKING:
    from policies.password_policy import PasswordPolicy
    from services.passwords import Evaluation, PasswordContext

CHECK_HELP = (
    "judge a password (read from stdin, first line) against the policy; exit 0 accepted, "
    "1 rejected, 2 bad input. The person's context comes from --given/--family/--email/"
    "--org-name/--org-code; with --email and a store (--db or GATEHOUSE_DB) their names and "
    "organisation are read from the store instead, as the signed-in operator "
    "(GATEHOUSE_OPERATOR, GATEHOUSE_PASSWORD). Password history is not checked here: it is "
    "checked when a password is set."
)


def _load_policy(path: str | None) -> PasswordPolicy:
    from policies.password_policy import load_password_policy

    return load_password_policy(Path(path) if path else None)


def _read_password() -> str:
    from services.errors import InvalidInput

    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        return getpass.getpass("Password to check (not shown): ")
    raw = sys.stdin.buffer.readline()
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The password on stdin is not valid UTF-8; send it as UTF-8 "
                           "text.") from None
    return line.rstrip("\r\n")


def _context(args: argparse.Namespace) -> tuple[PasswordContext, str]:
    from services.passwords import PasswordContext

    given, family, email = args.given or "", args.family or "", args.email or ""
    org_name, org_code = args.org_name or "", args.org_code or ""
    source = "options"
    if args.email and (args.db or os.environ.get("GATEHOUSE_DB")):
        from services.users import get_identity

        ctx = open_ctx(args)
        try:
            detail = get_identity(ctx, operator(ctx), args.email)
        finally:
            ctx.close()
        given = args.given or detail.given_name
        family = args.family or detail.family_name
        email = detail.email
        org_name = args.org_name or detail.org_name
        org_code = args.org_code or detail.org_code
        source = "store"
    return PasswordContext(given_name=given, family_name=family, email=email,
                           org_name=org_name, org_code=org_code, has_mfa=args.mfa), source


def _verdict_text(result: Evaluation) -> str:
    head = (f"{'Accepted' if result.accepted else 'Rejected'} under {result.policy!r}: "
            f"strength {result.score} of 4; an offline attack on the stored hash would take "
            f"{result.crack_time_display}.")
    lines = [head]
    lines += [f"  - {f.message}" for f in result.failures]
    if result.suggestions and not result.accepted:
        lines.append("Suggestions:")
        lines += [f"  - {s}" for s in result.suggestions]
    return "\n".join(lines)


def cmd_password_check(args: argparse.Namespace) -> int:
    from services.passwords import evaluate

    policy = _load_policy(args.policy)
    context, source = _context(args)
    result = evaluate(_read_password(), context, policy)
    document = result.as_dict()
    document["context_from"] = source
    emit(args, document, _verdict_text(result))
    return 0 if result.accepted else 1


def _comparison_text(document: dict[str, Any]) -> str:
    old, new = document["policies"][0], document["policies"][-1]
    codes = sorted(set(old["rules"]) | set(new["rules"]),
                   key=lambda c: (-new["rules"].get(c, 0), -old["rules"].get(c, 0), c))
    rows: list[tuple[Any, ...]] = [("accepted", old["accepted"], new["accepted"]),
                                   ("rejected", old["rejected"], new["rejected"])]
    rows += [(f"  {code}", old["rules"].get(code, 0), new["rules"].get(code, 0))
             for code in codes]
    return (f"{document['candidates']} candidate passwords\n"
            + table(rows, ("", f"old: {old['policy']}", f"new: {new['policy']}"))
            + f"\naccepted by the old policy but rejected by the new: "
              f"{document['newly_rejected']}"
            + f"\nrejected by the old policy but accepted by the new: "
              f"{document['newly_accepted']}")


def cmd_password_compare(args: argparse.Namespace) -> int:
    from services.passwords import PasswordContext, compare

    policies = [_load_policy(args.old), _load_policy(args.new)]
    from services.passwords.candidates import read_candidates

    candidates = read_candidates(Path(args.candidates))
    result = compare(policies, candidates, PasswordContext(has_mfa=args.mfa))
    document = result.as_dict()
    emit(args, document, _comparison_text(document))
    return 0


def cmd_password_policy(args: argparse.Namespace) -> int:
    policy = _load_policy(args.policy)
    rules = policy.describe()
    emit(args, {"policy": policy.name, "source": policy.source,
                "rules": [{"rule": r, "text": t} for r, t in rules]},
         f"{policy.name} ({policy.source})\n" + "\n".join(f"  - {t}" for _, t in rules))
    return 0


def cmd_password_breached_build(args: argparse.Namespace) -> int:
    from services.passwords.breached import build_breached_file

    report = build_breached_file(Path(args.source), Path(args.out), args.bytes)
    emit(args, report.as_dict(),
         f"Wrote {report.records:,} records of {report.record_bytes} bytes to {report.out} "
         f"(from {report.lines:,} lines); false-positive rate per check "
         f"{report.false_positive_rate:.1e}.")
    return 0


def register(cli: Groups) -> None:
    group = cli.group("password", "the password policy: check, compare, breached list")
    p = cli.command(group, "check", cmd_password_check, CHECK_HELP)
    p.add_argument("--policy", metavar="FILE", help="a policy file (default: the shipped "
                   "policies/password.toml)")
    p.add_argument("--email", metavar="E", help="the person's email (its local part is "
                   "context; with a store configured, their identity is looked up)")
    p.add_argument("--given", metavar="NAME", help="the person's given name")
    p.add_argument("--family", metavar="NAME", help="the person's family name")
    p.add_argument("--org-name", metavar="NAME", help="their organisation's name")
    p.add_argument("--org-code", metavar="CODE", help="their organisation's short code")
    p.add_argument("--mfa", action="store_true",
                   help="the account has multi-factor authentication (shorter minimum)")
    p = cli.command(group, "compare", cmd_password_compare,
                    "run candidate passwords (a UTF-8 file, one per line) through the old "
                    "and the new policy; counts only, never a password")
    p.add_argument("--old", required=True, metavar="FILE", help="the old policy file")
    p.add_argument("--new", required=True, metavar="FILE", help="the new policy file")
    p.add_argument("candidates", metavar="CANDIDATES")
    p.add_argument("--mfa", action="store_true", help="judge as accounts with MFA")
    p = cli.command(group, "policy", cmd_password_policy, "show every rule of a policy in words")
    p.add_argument("--policy", metavar="FILE", help="a policy file (default: the shipped one)")
    p = cli.command(group, "breached-build", cmd_password_breached_build,
                    "convert the Pwned Passwords SHA-1 download (a HEX40[:COUNT] file, or a "
                    "folder of 5-hex-digit range files) into the compact binary the policy's "
                    "[breached] path names")
    p.add_argument("source", metavar="SRC")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--bytes", type=int, default=8, metavar="N",
                   help="bytes kept of each SHA-1 (4–20; default 8: ~5e-11 false positives "
                   "per check for the full list)")
