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


def add_report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--report", action="append", metavar="FILE",
                   help="also write the result as a report; the format follows the extension: "
                   ".html (with charts), .csv (formula-safe) or .json; may be repeated")


def write_reports(args: argparse.Namespace, kind: str, document: dict[str, Any]) -> None:
    from services.compliance.reports import format_of, write_report

    paths = [Path(p) for p in args.report or []]
    for path in paths:
        format_of(path)  # every name is checked before anything is written
    for path in paths:
        write_report(path, kind, document)


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
    write_reports(args, "browser", document)
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
    add_report_options(p)


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


def _noncompliant(ua: str) -> bool:
    from services.compliance.browsers import NON_COMPLIANT, judge_user_agent

    return judge_user_agent(ua).verdict in NON_COMPLIANT


def _lockout_text(lockout: dict[str, Any]) -> str:
    if not lockout["organisations"]:
        return "Nobody would be locked out at the cut-over."
    rows = []
    for org in lockout["organisations"]:
        contacts = ", ".join(c["email"] for c in org["contacts"]) or "-"
        users = ", ".join(u["user"] for u in org["users"][:5])
        more = len(org["users"]) - 5
        rows.append((org["code"] or "(unmapped)", org["requests"], org["legacy_tls"],
                     org["non_compliant_client"], users + (f" +{more}" if more > 0 else ""),
                     contacts))
    return "Lock-out list by organisation:\n" + table(
        rows, ("organisation", "requests", "below TLS 1.2", "non-compliant client", "users",
               "LSO contacts"))


def cmd_check_logs(args: argparse.Namespace) -> int:
    from policies.tls_policy import load_tls_policy
    from services.cli.common import open_ctx, operator
    from services.compliance.access_logs import analyse
    from services.compliance.lockout import lockout_by_organisation

    policy = load_tls_policy(Path(args.policy)) if args.policy else load_tls_policy()
    report = analyse([Path(p) for p in args.files], fmt=args.format, classify=_client_label,
                     noncompliant=_noncompliant, user_field=args.user_field,
                     client_ips=bool(policy.ip_ranges))
    # Users map to organisations through the store only when one is named: reading people
    # needs a signed-in reviewer, and a log check must also work with no store at all.
    if args.db:
        ctx = open_ctx(args)
        try:
            lockout = lockout_by_organisation(report, policy, ctx=ctx, op=operator(ctx))
        finally:
            ctx.close()
    else:
        lockout = lockout_by_organisation(report, policy)
    document = {**report.as_dict(), "lockout_list": lockout.as_dict()}
    write_reports(args, "logs", document)
    emit(args, document, _logs_text(document) + "\n" + _lockout_text(document["lockout_list"]))
    return 1 if report.lockout.requests or lockout.organisations else 0


def _add_logs(cli: Groups, group: Any) -> None:
    p = cli.command(group, "logs", cmd_check_logs,
                    "read web server access logs that record the negotiated TLS protocol and "
                    "report who would be locked out at the TLS 1.2 cut-over (exit 1 if anyone)")
    p.add_argument("files", nargs="+", metavar="FILE", help="log files, plain or .gz")
    p.add_argument("--format", default="auto",
                   choices=("auto", "nginx", "apache", "alb", "iis", "appgw", "frontdoor"))
    p.add_argument("--user-field", metavar="NAME",
                   help="the field (Azure JSON) or column (IIS) that holds the user, where "
                   "the format has no standard one")
    p.add_argument("--policy", metavar="FILE",
                   help="a TLS policy file (default: the shipped policies/tls.toml); its "
                   "[organisations] ip_ranges map users without a name to organisations")
    add_report_options(p)


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
            r["status"].replace("_", " ") if r["status"] != "ok" else "NOT compliant")
        rows.append((f"{r['host']}:{r['port']}", *cells, verdict))
    lines = [table(rows, ("target", *names, "verdict"))]
    for r in reports:
        for finding in r["findings"] or ([r["detail"]] if r["detail"] else []):
            lines.append(f"{r['host']}:{r['port']}: {finding}")
    return "\n".join(lines)


def cmd_check_tls(args: argparse.Namespace) -> int:
    from policies.tls_policy import load_tls_policy
    from services.compliance.tls_probe import probe_many
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
    reports = probe_many(targets, timeout=args.timeout, ca_file=args.ca,
                         server_name=args.server_name, policy=policy, starttls=args.starttls)
    documents = [r.as_dict() for r in reports]
    compliant = all(r.compliant for r in reports)
    document = {"compliant": compliant, "targets": documents}
    write_reports(args, "tls", document)
    emit(args, document, _tls_text(documents))
    return 0 if compliant else 1


def _add_tls(cli: Groups, group: Any) -> None:
    p = cli.command(group, "tls", cmd_check_tls,
                    "probe servers: which of SSL 3.0 to TLS 1.3 each accepts, its TLS 1.2 "
                    "suites and certificate, against the policy (exit 1 if any falls short)")
    p.add_argument("targets", nargs="*", metavar="HOST:PORT")
    p.add_argument("--file", action="append", metavar="FILE",
                   help="a text file of HOST:PORT targets, one per line ('#' starts a comment)")
    p.add_argument("--starttls", choices=("smtp",),
                   help="speak this protocol first and upgrade with STARTTLS (e.g. port 25/587)")
    p.add_argument("--ca", metavar="FILE", help="trust this CA file instead of the system store")
    p.add_argument("--server-name", metavar="NAME",
                   help="the name to send (SNI) and check the certificate against")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="per connection attempt (default 5)")
    p.add_argument("--policy", metavar="FILE",
                   help="a TLS policy file (default: the shipped policies/tls.toml)")
    add_report_options(p)


def _client_line(record: dict[str, Any]) -> str:
    negotiated = f"{record['negotiated_version']} {record['negotiated_cipher']}".strip()
    ua = f" UA {record['user_agent']!r}" if record["user_agent"] else ""
    return (f"{record['peer']}: {record['verdict']} — offered {record['highest_offered'] or '-'}"
            f", negotiated {negotiated or '-'}{ua}; {' '.join(record['reasons'])}")


def cmd_check_client(args: argparse.Namespace) -> int:
    import sys

    from policies.tls_policy import load_tls_policy
    from services.compliance.client_endpoint import ClientEndpoint, ClientRecord, parse_listen
    from services.errors import InvalidInput

    host, port = parse_listen(args.listen)
    log = Path(args.json_log) if args.json_log else None
    if log is not None:
        try:
            log.open("a", encoding="utf-8").close()
        except OSError as exc:
            raise InvalidInput(f"Cannot write the JSON log {log} ({exc.strerror}); give a "
                               "file in a folder you may write to.") from None
    if (args.cert is None) != (args.key is None):
        raise InvalidInput("Give both --cert and --key, or neither (a throwaway certificate "
                           "is made for the session).")
    if args.count is not None and args.count < 1:
        raise InvalidInput("--count must be 1 or more.")
    policy = load_tls_policy(Path(args.policy)) if args.policy else None
    # Status lines go to stderr with --json, so that stdout stays one JSON document.
    status = sys.stderr if args.json else sys.stdout

    def on_client(record: ClientRecord) -> None:
        if not args.json:
            print(_client_line(record.as_dict()), flush=True)

    endpoint = ClientEndpoint(host, port, certfile=args.cert, keyfile=args.key, policy=policy,
                              json_log=log, on_client=on_client, timeout=args.timeout,
                              keep=max(1000, args.count or 0))
    endpoint.start()
    seen: list[ClientRecord] = []
    try:
        print(f"Listening on {endpoint.url} (TLS {', '.join(endpoint.local_versions)}); "
              "point a client at it, Ctrl+C to stop.", file=status, flush=True)
        note = endpoint.local_note()
        if note:
            print(note, file=status, flush=True)
        seen = endpoint.wait_for(args.count, args.duration)
    except KeyboardInterrupt:
        seen = endpoint.records
    finally:
        endpoint.stop()
    records = [r.as_dict() for r in seen]
    compliant = all(r["compliant"] for r in records)
    document = {"listen": f"{host}:{endpoint.port}", "local_versions":
                list(endpoint.local_versions), "local_note": endpoint.local_note(),
                "clients": records, "compliant": compliant}
    summary = (f"{len(records)} client(s), {sum(not r['compliant'] for r in records)} not "
               "compliant.")
    emit(args, document, summary)
    return 0 if compliant else 1


def _add_client(cli: Groups, group: Any) -> None:
    p = cli.command(group, "client", cmd_check_client,
                    "serve a TLS test endpoint (TLS 1.0-1.3 accepted) and judge each client "
                    "that connects: versions and suites offered, what was negotiated, its "
                    "User-Agent (exit 1 if any client falls short)")
    p.add_argument("--listen", required=True, metavar="HOST:PORT",
                   help="the address to listen on, e.g. 127.0.0.1:8443")
    p.add_argument("--json-log", metavar="FILE",
                   help="append one JSON line per client to FILE")
    p.add_argument("--cert", metavar="PEM", help="server certificate (default: a throwaway "
                   "self-signed one)")
    p.add_argument("--key", metavar="PEM", help="the certificate's private key")
    p.add_argument("--count", type=int, metavar="N", help="stop after N clients")
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="stop after this long (default: until Ctrl+C)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="how long to wait for a client's request (default 5)")
    p.add_argument("--policy", metavar="FILE",
                   help="a TLS policy file (default: the shipped policies/tls.toml)")


def register(cli: Groups) -> None:
    group = cli.group("check", "TLS 1.2-only compliance checks: browsers, API clients, access "
                      "logs and servers")
    for add in (_add_browser, _add_logs, _add_tls, _add_client):
        add(cli, group)
