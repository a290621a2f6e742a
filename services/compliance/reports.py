"""Evidence files for the TLS checks: HTML (self-contained, charts as inline SVG, no script),
CSV (formula-safe) and JSON, from the very documents the CLI prints with ``--json``.

``write_report(path, kind, document)`` picks the format from the file's extension; ``kind`` is
``browser``, ``tls`` or ``logs``. Every value that reaches the HTML is escaped, and every CSV
cell goes through ``services.audit.neutralise_cell`` (OWASP CSV injection), because User-Agents
and log fields are written by whoever sent the request.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from services.audit import neutralise_cell
from services.errors import InvalidInput

KINDS: Final = ("browser", "tls", "logs")
FORMATS: Final = {".html": "html", ".htm": "html", ".csv": "csv", ".json": "json"}
PROTOCOLS: Final = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
GOOD, BAD, WARN, GREY = "#2b8a7e", "#c0392b", "#d68910", "#9aa5b1"
_TITLES: Final = {"browser": "Browsers and API clients by User-Agent",
                  "tls": "Server TLS probes", "logs": "Access logs: who is locked out"}
_STYLE = ("body{font-family:system-ui,sans-serif;color:#1f2933;margin:2em;max-width:72em}"
          "table{border-collapse:collapse;margin:1em 0}th,td{border-bottom:1px solid #e4e7eb;"
          "padding:4px 8px;text-align:left;vertical-align:top;font-size:90%}"
          "th{background:#f5f7fa}.ok{color:#2b8a7e}.bad{color:#c0392b}"
          ".fine{color:#616e7c;font-size:85%}")


# ---- charts ----------------------------------------------------------------------------------


def svg_bars(title: str, bars: Sequence[tuple[str, int, str]], *, width: int = 640) -> str:
    """A horizontal bar chart as inline SVG: (label, value, colour) per bar, one scale."""
    row, label_w, pad = 24, 220, 8
    height = pad * 2 + 22 + row * max(1, len(bars))
    top = max((value for _, value, _ in bars), default=0) or 1
    scale = (width - label_w - 80) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}">',
             f'<text x="{pad}" y="{pad + 12}" font-size="13" font-weight="bold">'
             f"{html.escape(title)}</text>"]
    if not bars:
        parts.append(f'<text x="{pad}" y="{pad + 40}" font-size="12">Nothing to show.</text>')
    for index, (label, value, colour) in enumerate(bars):
        y = pad + 22 + index * row
        shown = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{pad}" y="{y + 15}" font-size="12">{html.escape(shown)}'
                     "</text>")
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(1.0, value * scale):.1f}" '
                     f'height="{row - 8}" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + value * scale + 6:.1f}" y="{y + 15}" '
                     f'font-size="12">{value:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _verdict_colour(verdict: str) -> str:
    return {"compliant": GOOD, "uncertain": WARN, "unknown": GREY}.get(verdict, BAD)


# ---- per kind: chart bars, table rows ---------------------------------------------------------


def _browser(document: dict[str, Any]) -> tuple[list[str], list[str], list[list[Any]]]:
    counts = document.get("counts", {})
    charts = [svg_bars("Requests by verdict", [(k, v, _verdict_colour(k))
                                               for k, v in counts.items()])]
    header = ["verdict", "count", "client", "reason", "user_agent"]
    rows = [[r["verdict"], r.get("count", 1), r["client"], r["reason"], r["user_agent"]]
            for r in document.get("results", [])]
    return charts, header, rows


def _tls(document: dict[str, Any]) -> tuple[list[str], list[str], list[list[Any]]]:
    targets = document.get("targets", [])
    bars = []
    for protocol in PROTOCOLS:
        accepted = sum(t["protocols"].get(protocol, {}).get("status") == "accepted"
                       for t in targets)
        bars.append((f"{protocol} accepted", accepted,
                     GOOD if protocol in ("TLSv1.2", "TLSv1.3") else BAD))
    charts = [svg_bars("Servers accepting each protocol", bars)]
    header = ["target", "status", *PROTOCOLS, "compliant", "findings"]
    rows = [[f"{t['host']}:{t['port']}", t["status"],
             *(t["protocols"].get(p, {}).get("status", "-") for p in PROTOCOLS),
             "yes" if t["compliant"] else "no", " ".join(t["findings"])] for t in targets]
    return charts, header, rows


def _logs(document: dict[str, Any]) -> tuple[list[str], list[str], list[list[Any]]]:
    charts = [svg_bars("Requests by TLS protocol",
                       [(r["name"], r["requests"],
                         GOOD if r["name"] in ("TLSv1.2", "TLSv1.3") else
                         GREY if r["name"] == "plain-http" else BAD)
                        for r in document.get("by_protocol", [])])]
    organisations = document.get("lockout_list", {}).get("organisations", [])
    charts.append(svg_bars("Requests that fail at cut-over, by organisation",
                           [(o["code"] or "(unmapped)", o["requests"], BAD)
                            for o in organisations]))
    header = ["organisation", "name", "user", "mapped_by", "requests", "below_tls12",
              "non_compliant_client", "lso_contacts"]
    rows = []
    for org in organisations:
        contacts = "; ".join(f"{c['name']} <{c['email']}>" for c in org["contacts"])
        for user in org["users"]:
            rows.append([org["code"], org["name"], user["user"], user["mapped_by"],
                         user["requests"], user["legacy_tls"], user["non_compliant_client"],
                         contacts])
    return charts, header, rows


_BUILDERS = {"browser": _browser, "tls": _tls, "logs": _logs}


def _parts(kind: str, document: dict[str, Any]) -> tuple[list[str], list[str], list[list[Any]]]:
    if kind not in _BUILDERS:
        raise InvalidInput(f"There is no report for {kind!r}; use one of {', '.join(KINDS)}.")
    return _BUILDERS[kind](document)


# ---- formats ---------------------------------------------------------------------------------


def render_html(kind: str, document: dict[str, Any], *, now: dt.datetime | None = None) -> str:
    charts, header, rows = _parts(kind, document)
    e = html.escape
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    compliant = document.get("compliant")
    if compliant is None and kind == "logs":
        compliant = not document.get("lockout_list", {}).get("organisations")
    verdict = ('<p class="ok"><strong>Compliant.</strong></p>' if compliant else
               '<p class="bad"><strong>Not compliant: see below.</strong></p>')
    head_row = "".join(f"<th>{e(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Gatehouse: {e(_TITLES[kind])}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{e(_TITLES[kind])}</h1><p class=\"fine\">Generated {e(when)} by Gatehouse "
            "against the TLS 1.2-or-higher policy.</p>" + verdict
            + "".join(f"<figure>{chart}</figure>" for chart in charts)
            + f"<table><thead><tr>{head_row}</tr></thead><tbody>{body}</tbody></table>"
            "</body></html>")


def render_csv(kind: str, document: dict[str, Any]) -> str:
    _, header, rows = _parts(kind, document)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(_safe(row) for row in rows)
    return out.getvalue()


def _safe(row: Iterable[Any]) -> list[str]:
    return [neutralise_cell(str(cell)) for cell in row]


def render_json(kind: str, document: dict[str, Any]) -> str:
    _parts(kind, document)  # the kind is checked the same way for every format
    return json.dumps({"kind": kind, **document}, ensure_ascii=False, indent=2, default=str)


def format_of(path: Path) -> str:
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise InvalidInput(f"Cannot tell the report format of {path.name}; end the name with "
                           ".html, .csv or .json.")
    return found


def write_report(path: Path, kind: str, document: dict[str, Any]) -> None:
    renderer = {"html": render_html, "csv": render_csv, "json": render_json}[format_of(path)]
    text = renderer(kind, document)
    try:
        path.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise InvalidInput(f"Cannot write the report {path} ({exc.strerror}); choose a folder "
                           "you may write to.") from exc
