"""CLI: TLS 1.2-only compliance checks. No store is needed: each check reads its input and
``policies/tls.toml``.

Exit codes: 0 when everything checked is compliant; 1 when anything is not — non-compliant,
and also uncertain or unknown, because a reviewer cannot sign those off; 2 for bad input.
Each check is a ``cmd_check_*`` handler with an ``_add_*`` function that declares its options;
``register`` lists them, so further checks (servers, the client endpoint, access logs) are one
function pair each.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.cli.common import Groups, emit, table

if TYPE_CHECKING:
    from services.compliance.browsers import ClientVerdict

BROWSER_HELP = (
    "judge browsers and API clients by User-Agent against the TLS policy (TLS 1.2+, browser "
    "floors, IE unsupported); exit 0 if every one is compliant, 1 if any is not (uncertain "
    "and unknown count as not), 2 bad input"
)


def _read_user_agents(args: argparse.Namespace) -> list[str]:
    from services.errors import InvalidInput

    uas = list(args.ua or [])
    if any(not ua.strip() for ua in uas):
        raise InvalidInput("--ua was given an empty User-Agent; quote the whole string, e.g. "
                           "--ua \"Mozilla/5.0 (…) Chrome/120.0.0.0 Safari/537.36\".")
    for name in args.file or []:
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidInput(f"{path} does not exist; give a text file with one User-Agent "
                               "per line.") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{path} is not UTF-8 text; save it as UTF-8 with one "
                               "User-Agent per line.") from None
        except OSError as exc:
            raise InvalidInput(f"{path} cannot be read ({exc.strerror}).") from None
        uas += [line.strip() for line in text.splitlines() if line.strip()]
    if not uas:
        raise InvalidInput("No User-Agent to check: give --ua \"…\" or --file FILE (one per "
                           "line).")
    return uas


def _browser_text(verdicts: list[tuple[ClientVerdict, int]], counts: Counter[str]) -> str:
    if len(verdicts) == 1:
        v = verdicts[0][0]
        row = f" [capability row: {v.capability.id}]" if v.capability else ""
        return f"{v.verdict.value}: {v.client or 'unrecognised client'}\n  {v.reason}{row}"
    rows = [(v.verdict.value, n, v.client or "unrecognised", v.reason) for v, n in verdicts]
    summary = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    return table(rows, ("verdict", "count", "client", "reason")) + f"\n{summary}"


def cmd_check_browser(args: argparse.Namespace) -> int:
    from policies.tls_policy import load_tls_policy
    from services.compliance.browsers import judge_user_agent

    policy = load_tls_policy(Path(args.policy)) if args.policy else None
    uas = _read_user_agents(args)
    seen = Counter(uas)  # logs and lists repeat UAs: judge each distinct string once
    verdicts = [(judge_user_agent(ua, policy), n) for ua, n in seen.items()]
    counts: Counter[str] = Counter()
    for verdict, n in verdicts:
        counts[verdict.verdict.value] += n
    all_compliant = all(v.compliant for v, _ in verdicts)
    document: dict[str, Any] = {
        "policy": (policy.source if policy else "policies/tls.toml"),
        "checked": len(uas),
        "distinct": len(verdicts),
        "compliant": all_compliant,
        "counts": dict(sorted(counts.items())),
        "results": [{**v.as_dict(), "count": n} for v, n in verdicts],
    }
    emit(args, document, _browser_text(verdicts, counts))
    return 0 if all_compliant else 1


def _add_browser(cli: Groups, group: Any) -> None:
    p = cli.command(group, "browser", cmd_check_browser, BROWSER_HELP)
    p.add_argument("--ua", action="append", metavar="UA",
                   help="a User-Agent string (quote it); may be repeated")
    p.add_argument("--file", action="append", metavar="FILE",
                   help="a UTF-8 text file with one User-Agent per line; may be repeated")
    p.add_argument("--policy", metavar="FILE",
                   help="a TLS policy file (default: the shipped policies/tls.toml)")


def _client_label(ua: str) -> str:
    from services.compliance.browsers import judge_user_agent

    verdict = judge_user_agent(ua)
    return f"{verdict.verdict.value}: {verdict.client or 'unrecognised client'}"


def _logs_text(document: dict[str, Any]) -> str:
    lockout = document["lockout"]
    lines = [f"{document['requests']} requests in {document['lines']} lines "
             f"({document['malformed']} malformed) from {len(document['sources'])} file(s)",
             table([(r["name"], r["requests"]) for r in document["by_protocol"]],
                   ("protocol", "requests"))]
    if lockout["requests"]:
        lines.append(f"{lockout['requests']} requests used a protocol below TLS 1.2 and will "
                     "fail after the cut-over. Most affected users:")
        lines.append(table([(r["name"], r["requests"]) for r in lockout["by_user"][:10]],
                           ("user", "requests")))
    else:
        lines.append("No request used a protocol below TLS 1.2.")
    return "\n".join(lines)


def cmd_check_logs(args: argparse.Namespace) -> int:
    from services.compliance.access_logs import analyse

    report = analyse([Path(p) for p in args.files], fmt=args.format, classify=_client_label)
    document = report.as_dict()
    emit(args, document, _logs_text(document))
    return 1 if report.lockout.requests else 0


def _add_logs(cli: Groups, group: Any) -> None:
    p = cli.command(group, "logs", cmd_check_logs,
                    "read web server access logs that record the negotiated TLS protocol and "
                    "report who would be locked out at the TLS 1.2 cut-over (exit 1 if anyone)")
    p.add_argument("files", nargs="+", metavar="FILE", help="log files, plain or .gz")
    p.add_argument("--format", default="auto",
                   choices=("auto", "nginx", "apache", "alb", "iis", "appgw", "frontdoor"))


def _target(text: str) -> tuple[str, int]:
    from services.errors import InvalidInput

    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InvalidInput(f"The target {text.strip()!r} must be written HOST:PORT, "
                           "e.g. portal.example.com:443.")
    return host.strip("[]"), int(port)


def _tls_text(reports: list[dict[str, Any]]) -> str:
    names = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    rows = []
    for r in reports:
        cells = [r["protocols"].get(n, {}).get("status", "-") for n in names]
        verdict = "compliant" if r["compliant"] else (
            "unreachable" if r["status"] == "unreachable" else "NOT compliant")
        rows.append((f"{r['host']}:{r['port']}", *cells, verdict))
    lines = [table(rows, ("target", *names, "verdict"))]
    for r in reports:
        for finding in r["findings"] or ([r["detail"]] if r["detail"] else []):
            lines.append(f"{r['host']}:{r['port']}: {finding}")
    return "\n".join(lines)


def cmd_check_tls(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from policies.tls_policy import load_tls_policy
    from services.compliance.tls_probe import probe
    from services.errors import InvalidInput

    texts = list(args.targets or [])
    for name in args.file or []:
        try:
            lines = Path(name).read_text(encoding="utf-8").splitlines()
            texts += [line.partition("#")[0].strip() for line in lines
                      if line.partition("#")[0].strip()]
        except OSError as exc:
            raise InvalidInput(f"Cannot read the targets file {name}: {exc.strerror}.") from None
    if not texts:
        raise InvalidInput("Name at least one HOST:PORT, or a file of them with --file.")
    targets = [_target(t) for t in texts]
    policy = load_tls_policy(Path(args.policy)) if args.policy else None
    # Each probe waits on the network: several at once, each with its own timeout.
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        reports = list(pool.map(lambda t: probe(
            t[0], t[1], timeout=args.timeout, ca_file=args.ca, server_name=args.server_name,
            policy=policy), targets))
    documents = [r.as_dict() for r in reports]
    compliant = all(r.compliant for r in reports)
    emit(args, {"compliant": compliant, "targets": documents}, _tls_text(documents))
    return 0 if compliant else 1


def _add_tls(cli: Groups, group: Any) -> None:
    p = cli.command(group, "tls", cmd_check_tls,
                    "probe servers: which of SSL 3.0 to TLS 1.3 each accepts, its TLS 1.2 "
                    "suites and certificate, against the policy (exit 1 if any falls short)")
    p.add_argument("targets", nargs="*", metavar="HOST:PORT")
    p.add_argument("--file", action="append", metavar="FILE",
                   help="a text file of HOST:PORT targets, one per line ('#' starts a comment)")
    p.add_argument("--ca", metavar="FILE", help="trust this CA file instead of the system store")
    p.add_argument("--server-name", metavar="NAME",
                   help="the name to send (SNI) and check the certificate against")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="per connection attempt (default 5)")
    p.add_argument("--policy", metavar="FILE",
                   help="a TLS policy file (default: the shipped policies/tls.toml)")


def register(cli: Groups) -> None:
    group = cli.group("check", "TLS 1.2-only compliance checks: browsers, API clients, access "
                      "logs and servers")
    for add in (_add_browser, _add_logs, _add_tls):
        add(cli, group)
