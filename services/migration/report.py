"""The migration report: rejected rows with their reasons, merges, and totals per organisation
— as CSV (safe to open in a spreadsheet) and as HTML (every value escaped).

Values in a legacy export are hostile until proven otherwise: a cell starting ``=`` would run
as a formula in a spreadsheet (OWASP CSV injection; ``neutralise_cell``), and a name holding
``<script>`` must stay text in a browser (``html.escape``).
"""

from __future__ import annotations

import csv
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from services.audit import neutralise_cell
from services.authz import Action, Operator, require
from services.context import Context
from services.store.schema import identity, migration_identity, migration_run, organisation


@dataclass
class Report:
    plan_id: str
    source: str
    run_status: str  # not run | running | cancelled | done
    rejected: list[dict[str, Any]] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)
    organisations: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "run_status": self.run_status,
                "rejected": len(self.rejected), "merges": len(self.merges),
                "organisations": len(self.organisations)}


def build_report(ctx: Context, op: Operator, plan: dict[str, Any]) -> Report:
    require(op, Action.MIGRATION_READ)
    plan_id = str(plan["plan_id"])
    with ctx.store.read() as conn:
        status = conn.execute(select(migration_run.c.status).where(
            migration_run.c.plan_id == plan_id)).scalar_one_or_none()
        stored = {(code, st): int(n) for code, st, n in conn.execute(
            select(organisation.c.code, identity.c.status, func.count())
            .select_from(migration_identity)
            .join(identity, identity.c.subject == migration_identity.c.subject)
            .join(organisation, organisation.c.id == identity.c.organisation_id)
            .where(migration_identity.c.plan_id == plan_id)
            .group_by(organisation.c.code, identity.c.status))}
        merged_logins = {r[0] for r in conn.execute(
            select(identity.c.login_id).join(
                migration_identity, migration_identity.c.subject == identity.c.subject)
            .where(migration_identity.c.plan_id == plan_id, identity.c.status == "merged"))}
    report = Report(plan_id=plan_id, source=plan["source"]["name"],
                    run_status=status or "not run")
    report.rejected = [{"row": r["row"], "line": r["line"], "legacy_id": r["legacy_id"],
                        "organisation": r["organisation"], "reasons": ";".join(r["reasons"]),
                        "message": r["message"]} for r in plan["rejected"]]
    for merge in plan["auto_merges"]:
        report.merges.append({"kind": "exact_duplicate", "survivor": merge["login_id"],
                              "accounts": " ".join(merge["legacy_ids"]),
                              "decision": "automatic", "applied": status == "done"})
    for s in plan["suggested_merges"]:
        others = [k for k in s["keys"] if k != s["survivor"]]
        report.merges.append({"kind": s["kind"], "survivor": s["survivor"],
                              "accounts": " ".join(others), "decision": s["decision"],
                              "applied": bool(others) and all(k in merged_logins
                                                              for k in others)})
    for org in plan["organisations"]:
        code = org["code"]
        in_store = {st: n for (c, st), n in stored.items() if c == code}
        report.organisations.append({
            "organisation": code, "name": org["name"], "size": org["size"],
            "rows": org["rows"], "rejected": org["rejected"], "planned": org["create"],
            "migrated": sum(n for st, n in in_store.items() if st != "merged"),
            "merged_away": in_store.get("merged", 0),
            "completed": in_store.get("active", 0),
            "pending_reset": in_store.get("reset_required", 0),
            "disabled": in_store.get("disabled", 0)})
    return report


_SECTIONS = (("rejected", ("row", "line", "legacy_id", "organisation", "reasons", "message")),
             ("merges", ("kind", "survivor", "accounts", "decision", "applied")),
             ("organisations", ("organisation", "name", "size", "rows", "rejected", "planned",
                                "migrated", "merged_away", "completed", "pending_reset",
                                "disabled")))


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def csv_text(report: Report) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for name, columns in _SECTIONS:
        writer.writerow(["section", *columns])
        for item in getattr(report, name):
            writer.writerow([name, *(neutralise_cell(str(item[c])) for c in columns)])
        writer.writerow([])
    return buffer.getvalue()


def write_csv(report: Report, path: Path) -> None:
    _atomic(path, csv_text(report))


def html_text(report: Report) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Migration report {e(report.plan_id)}</title></head><body>",
             f"<h1>Migration report</h1><p>Plan {e(report.plan_id)} for {e(report.source)}; "
             f"run: {e(report.run_status)}.</p>"]
    titles = {"rejected": "Rejected rows", "merges": "Merges",
              "organisations": "Totals per organisation"}
    for name, columns in _SECTIONS:
        parts.append(f"<h2>{titles[name]}</h2><table><thead><tr>"
                     + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr></thead><tbody>")
        for item in getattr(report, name):
            parts.append("<tr>" + "".join(f"<td>{e(str(item[c]))}</td>" for c in columns)
                         + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html(report: Report, path: Path) -> None:
    _atomic(path, html_text(report))
