"""The dry run: a legacy export read, validated and grouped into identities — written as a plan
file an admin reviews, decides on and signs off. A plan writes nothing to the store.

What the plan holds, and what it deliberately does not
------------------------------------------------------
The plan keeps what a person must review or decide: every rejected row with its reasons,
every automatic merge of exact duplicates, every suggested merge (with room for the decision),
every conflict (with its default resolution, which the admin may change), the LSOs, and counts
per outcome and per organisation. It does **not** keep one record per identity: the plan pins
the source file by SHA-256 and the derived identities by ``derivation.digest``, the SHA-256 of
one line per identity (:meth:`PlannedIdentity.digest_line`). So a 100,000-row plan stays a few
megabytes, the source file stays the one record of what was exported, and neither a changed
file, a changed policy nor a changed grouping rule can slip through between plan and run.

The lines themselves are written beside the plan, ``PLAN.identities.tsv``
(:func:`identities_path`): a file whose SHA-256 *is* the signed-off ``derivation.digest``, so a
run reads its identities from there after hashing it — a tenth of the time of reading and
validating the export again. A missing or altered identities file costs only that time: the
run then re-derives the identities from the source with the same code and checks them against
the digest (:func:`planned_identities`).

Grouping rules (programme decisions 1 and 2)
--------------------------------------------
- Rows with the same login ID (RFC 8265 case mapping, ``services.identity``) are one identity:
  merged automatically, roles the union product by product.
- If any of them is active, the identity is active and takes only the active rows' roles and
  organisation (a disabled second account grants nothing); otherwise it is migrated disabled.
  Disabled-plus-active is reported as a conflict with that default resolution.
- Rows of one login ID under several organisations are a conflict: by default the identity goes
  to the organisation of the most recently used account; the admin may choose another.
- Numeric-suffix variants and same-name-same-organisation accounts are only *suggested*
  (``services.merge.detect``); nothing merges until an admin confirms the suggestion.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from policies.migration_policy import MigrationPolicy
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import InvalidInput
from services.migration.bulk import collector_paused
from services.migration.reader import SourceInfo, open_source
from services.migration.validate import Account, Rejection, RowValidator
from services.store.schema import ORG_TYPES, PRODUCTS

PLAN_FORMAT = "gatehouse-migration-plan"
PLAN_VERSION = 1
IDENTITIES_SUFFIX = ".identities.tsv"
DECISIONS = ("confirmed", "rejected")
LSO_ROLE = ("GATEHOUSE", "lso")
NOT_IN_SCOPE = "(not in scope)"
# Rejected rows listed one by one in a plan; beyond it they are only counted. A file that is
# garbage throughout (a 10 MB quoted cell breaks into thousands of bogus rows) must not grow
# the plan, or the memory holding it, without bound.
MAX_REJECTION_DETAILS = 20_000

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


class PlanRefused(InvalidInput):
    """A plan file cannot be used as it is (changed source, edited after sign-off, …)."""


@dataclass(frozen=True, slots=True)
class PlannedIdentity:
    """One identity the run will create, derived from one or more legacy rows."""

    index: int  # position in derivation order (first row first): batches cut this order
    login_id: str
    email: str
    given_name: str
    family_name: str
    org_code: str
    status: str  # active (migrated as reset_required) | disabled
    roles: tuple[tuple[str, str], ...]  # (product, role), sorted
    legacy: tuple[tuple[str, int], ...]  # (legacy id, source row), every row folded in
    conflicts: tuple[str, ...]  # "org_mismatch", "status_mixed"

    @property
    def lso(self) -> bool:
        return LSO_ROLE in self.roles

    def digest_line(self) -> str:
        """The identity as one line of the identities file. Unambiguous: validation refuses
        control characters (tabs, newlines) in every value, legacy ids are letters, digits and
        ``. _ : / -``, and products and roles come from the catalogue."""
        roles = ",".join(f"{p}:{r}" for p, r in self.roles)
        legacy = ",".join(f"{i}@{n}" for i, n in self.legacy)
        return "\t".join((self.login_id, self.email, self.given_name, self.family_name,
                          self.org_code, self.status, roles, legacy)) + "\n"

    @classmethod
    def from_line(cls, index: int, line: str) -> PlannedIdentity:
        """The identity a :meth:`digest_line` describes (without the plan-time conflicts,
        which the plan document holds)."""
        login_id, email, given, family, org, status, roles, legacy = line.split("\t")
        return cls(index, login_id, email, given, family, org, status,
                   tuple(_pair(role, ":") for role in roles.split(",")) if roles else (),
                   tuple((lid, int(row)) for lid, row in (_pair(item, "@")
                                                          for item in legacy.split(","))),
                   ())


def _pair(text: str, sep: str) -> tuple[str, str]:
    head, _sep, tail = text.rpartition(sep)
    return head, tail


@dataclass
class Derivation:
    """Everything the source file says, before the store is consulted."""

    source: SourceInfo
    sha256: str
    rows: int
    rejections: list[Rejection]  # the first MAX_REJECTION_DETAILS
    identities: list[PlannedIdentity]
    digest: str
    lines: bytes = b""  # the identities file: its SHA-256 is ``digest``
    org_rows: Counter[str] = field(default_factory=Counter)  # rows naming an org in scope
    rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    rejected_per_org: Counter[str] = field(default_factory=Counter)

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        self.rejected_by_reason.update(rejection.reasons)
        self.org_rows[rejection.org_code or NOT_IN_SCOPE] += 1
        if rejection.org_code:
            self.rejected_per_org[rejection.org_code] += 1
        if len(self.rejections) < MAX_REJECTION_DETAILS:
            self.rejections.append(rejection)


def check_policy_catalogue(policy: MigrationPolicy) -> None:
    """The policy against the store's catalogue (products, roles, organisation types)."""
    from policies import PolicyError

    roles = {(code, role) for code, _name, names in PRODUCTS for role in names}
    for legacy, target in policy.role_codes.items():
        if target not in roles:
            raise PolicyError(f"migration.toml: roles.codes.{legacy} maps to "
                              f"{target[0]}:{target[1]}, which is not a product role here "
                              f"(known: {', '.join(sorted(f'{p}:{r}' for p, r in roles))}).")
        if target == ("GATEHOUSE", "platform_admin"):
            raise PolicyError(f"migration.toml: roles.codes.{legacy} would grant platform admin "
                              "by migration; grant it by hand after the run instead.")
    for code, org in policy.organisations.items():
        if org.type not in ORG_TYPES:
            raise PolicyError(f"migration.toml: organisations.{code}.type is {org.type!r}; use "
                              f"one of {', '.join(ORG_TYPES)}.")
    # The store's column sizes (schema.py) bound the limits.
    for key, ceiling in (("legacy_id", 64), ("email", 254), ("given_name", 200),
                         ("family_name", 200)):
        if policy.limits[key] > ceiling:
            raise PolicyError(f"migration.toml: limits.{key} is {policy.limits[key]}; the store "
                              f"holds at most {ceiling}.")


def _resolve(index: int, accounts: list[Account]) -> PlannedIdentity:
    if len(accounts) == 1:  # nine in ten identities: nothing to choose between
        a = accounts[0]
        return PlannedIdentity(index, a.login_id, a.email, a.given_name, a.family_name,
                               a.org_code, a.status, tuple(sorted(a.roles)),
                               ((a.legacy_id, a.row),), ())
    active = [a for a in accounts if a.status == "active"]
    counted = active or accounts
    orgs = {a.org_code for a in counted}
    # Several organisations: the most recently used account decides, the earliest row among
    # equals.
    primary = counted[0] if len(orgs) == 1 else max(counted, key=lambda a: (a.last_login,
                                                                            -a.row))
    conflicts = []
    if len({a.org_code for a in accounts}) > 1:
        conflicts.append("org_mismatch")
    if active and len(active) != len(accounts):
        conflicts.append("status_mixed")
    roles: set[tuple[str, str]] = set()
    for account in counted:
        roles |= account.roles
    return PlannedIdentity(
        index=index, login_id=primary.login_id, email=primary.email,
        given_name=primary.given_name, family_name=primary.family_name,
        org_code=primary.org_code, status="active" if active else "disabled",
        roles=tuple(sorted(roles)), legacy=tuple((a.legacy_id, a.row) for a in accounts),
        conflicts=tuple(conflicts))


def derive(path: Path, policy: MigrationPolicy, *, fmt: str | None = None,
           progress: Progress | None = None, cancelled: Cancelled | None = None) -> Derivation:
    """Read, validate and group a source file. Pure: the same bytes and policy give the same
    result. Raises ``SourceRejected`` for an unreadable file, ``InvalidInput`` if cancelled."""
    check_policy_catalogue(policy)
    source = open_source(path, policy, fmt=fmt)
    validator = RowValidator(policy)
    found = Derivation(source=source.info, sha256="", rows=0, rejections=[], identities=[],
                       digest="")
    groups: dict[str, Account | list[Account]] = {}
    rows = 0
    with collector_paused():
        for item in source.rows():
            rows += 1
            if rows % 8192 == 0:
                if cancelled and cancelled():
                    raise InvalidInput("The plan was cancelled; nothing was written.")
                if progress:
                    progress(source.bytes_read, source.info.size)
            if item.problem is not None:
                found.reject(Rejection(item.number, item.line, "", "", (item.problem.code,),
                                       item.problem.message))
                continue
            assert item.values is not None
            result = validator.check(item.number, item.line, item.values)
            if isinstance(result, Rejection):
                found.reject(result)
                continue
            found.org_rows[result.org_code] += 1
            group = groups.get(result.login_id)
            if group is None:
                groups[result.login_id] = result  # most login IDs have one row: no list
            elif isinstance(group, list):
                group.append(result)
            else:
                groups[result.login_id] = [group, result]
        found.identities = [_resolve(n, accounts if isinstance(accounts, list) else [accounts])
                            for n, accounts in enumerate(groups.values())]
        del groups
    found.lines = "".join([planned.digest_line() for planned in found.identities]).encode()
    assert source.sha256 is not None
    found.sha256, found.rows = source.sha256, rows
    found.digest = hashlib.sha256(found.lines).hexdigest()
    return found


# ---- the plan document ---------------------------------------------------------------------


def _suggestion_id(keys: Iterable[str]) -> str:
    return "M-" + hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:12]


def _conflict_id(kind: str, login_id: str) -> str:
    return "C-" + hashlib.sha256(f"{kind}\n{login_id}".encode()).hexdigest()[:12]


@dataclass
class _StoreView:
    org_codes: set[str]
    live_logins: set[str]
    migrated: set[str]  # legacy ids of this system already migrated
    store_id: str | None


def _store_view(ctx: Context | None, policy: MigrationPolicy) -> _StoreView:
    if ctx is None:
        return _StoreView(set(), set(), set(), None)
    from sqlalchemy import select

    from services.store.schema import identity, legacy_account, organisation

    with ctx.store.read() as conn:
        orgs = {r[0] for r in conn.execute(select(organisation.c.code))}
        logins = {r[0] for r in conn.execute(
            select(identity.c.login_id).where(identity.c.status != "deleted"))}
        migrated = {r[0] for r in conn.execute(
            select(legacy_account.c.legacy_id).where(legacy_account.c.system == policy.system))}
    return _StoreView(orgs, logins, migrated, ctx.store_id)


def _suggest(identities: list[PlannedIdentity], cancelled: Cancelled | None
             ) -> list[dict[str, Any]]:
    from services.merge.detect import Candidate, suggest_merges

    candidates = [Candidate(key=p.login_id, login_id=p.login_id, given_name=p.given_name,
                            family_name=p.family_name, org_code=p.org_code)
                  for p in identities]
    found = suggest_merges(candidates, cancelled=cancelled)
    if cancelled and cancelled():
        raise InvalidInput("The plan was cancelled; nothing was written.")
    return [{"id": _suggestion_id(s.keys), "kind": s.kind, "score": s.score,
             "keys": list(s.keys), "survivor": s.keys[0], "reasons": list(s.reasons),
             "decision": None, "decided_by": None, "decided_at": None} for s in found]


def build_plan(ctx: Context | None, op: Operator, path: Path, policy: MigrationPolicy, *,
               fmt: str | None = None, progress: Progress | None = None,
               cancelled: Cancelled | None = None) -> dict[str, Any]:
    """The plan document for ``path``. Reads the store (organisations, login IDs, legacy ids
    already migrated) when ``ctx`` is given; writes nothing."""
    return build_plan_with_identities(ctx, op, path, policy, fmt=fmt, progress=progress,
                                      cancelled=cancelled)[0]


def build_plan_with_identities(
        ctx: Context | None, op: Operator, path: Path, policy: MigrationPolicy, *,
        fmt: str | None = None, progress: Progress | None = None,
        cancelled: Cancelled | None = None) -> tuple[dict[str, Any], bytes]:
    """The plan document and its identities file (``write_plan(..., identities=...)``)."""
    require(op, Action.MIGRATION_READ)
    with collector_paused():
        return _build_plan(ctx, op, path, policy, fmt, progress, cancelled)


def _build_plan(ctx: Context | None, op: Operator, path: Path, policy: MigrationPolicy,
                fmt: str | None, progress: Progress | None, cancelled: Cancelled | None
                ) -> tuple[dict[str, Any], bytes]:
    now = ctx.now() if ctx is not None else None
    found = derive(path, policy, fmt=fmt, progress=progress, cancelled=cancelled)
    store = _store_view(ctx, policy)

    outcome_rows: Counter[str] = Counter(rejected=found.rejected)
    outcome_ids: Counter[str] = Counter()
    per_org: dict[str, Counter[str]] = {code: Counter() for code in policy.organisations}
    conflicts: list[dict[str, Any]] = []
    auto_merges: list[dict[str, Any]] = []
    lsos: list[dict[str, Any]] = []
    to_create: list[PlannedIdentity] = []
    for planned in found.identities:
        org = per_org[planned.org_code]
        legacy_ids = [lid for lid, _row in planned.legacy]
        if any(lid in store.migrated for lid in legacy_ids):
            outcome = "already_migrated"
        elif planned.login_id in store.live_logins:
            outcome = "collision"
            conflicts.append({
                "id": _conflict_id("exists_in_store", planned.login_id),
                "kind": "exists_in_store", "login_id": planned.login_id,
                "rows": [row for _lid, row in planned.legacy], "organisations": [
                    planned.org_code], "resolution": {"action": "skip"},
                "message": f"{planned.login_id} is already held by an identity in the store; "
                           "by default its legacy rows are skipped."})
        else:
            outcome = "create"
            to_create.append(planned)
        outcome_ids[outcome] += 1
        outcome_rows[outcome] += 1
        outcome_rows["auto_merged" if outcome == "create" else outcome] += len(legacy_ids) - 1
        org[outcome] += 1
        if outcome != "create":
            continue
        org[planned.status] += 1
        outcome_ids[planned.status] += 1
        if len(planned.legacy) > 1:
            org["auto_merged_rows"] += len(planned.legacy) - 1
            auto_merges.append({"login_id": planned.login_id,
                                "rows": [row for _lid, row in planned.legacy],
                                "legacy_ids": legacy_ids})
        if planned.lso:
            org["lso"] += 1
            outcome_ids["lso"] += 1
            lsos.append({"login_id": planned.login_id, "organisation": planned.org_code,
                         "status": planned.status})
        for kind in planned.conflicts:
            conflicts.append(_conflict(kind, planned))

    for code, count in found.rejected_per_org.items():
        per_org[code]["rejected"] += count
    suggestions = _suggest(to_create, cancelled)
    conflict_counts = Counter(c["kind"] for c in conflicts)

    plan: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "format_version": PLAN_VERSION,
        "plan_id": str(uuid.uuid4()),
        "created_at": now.isoformat() if now else None,
        "created_by": op.login_id,
        "store_id": store.store_id,
        "source": {
            "name": found.source.name, "sha256": found.sha256, "bytes": found.source.size,
            "format": found.source.format, "encoding": found.source.encoding,
            "delimiter": found.source.delimiter, "header": list(found.source.header),
            "columns": found.source.columns, "rows": found.rows,
        },
        "policy": {"name": policy.name, "system": policy.system, "sha256": policy.sha256,
                   "batch_size": policy.batch_size_for(len(found.identities))},
        "derivation": {"identities": len(found.identities), "digest": found.digest},
        "counts": {
            "rows": {"total": found.rows, **{k: outcome_rows[k] for k in (
                "create", "auto_merged", "rejected", "already_migrated", "collision")}},
            "rejected_by_reason": dict(sorted(found.rejected_by_reason.items())),
            "rejected_listed": len(found.rejections),
            "identities": {k: outcome_ids[k] for k in (
                "create", "active", "disabled", "lso", "already_migrated", "collision")},
            "suggested_merges": len(suggestions),
            "conflicts": {k: conflict_counts[k] for k in (
                "org_mismatch", "status_mixed", "exists_in_store")},
            "rows_outside_scope": found.org_rows[NOT_IN_SCOPE],
        },
        "organisations": [
            {"code": code, "name": scope.name, "type": scope.type, "size": scope.size,
             "in_store": code in store.org_codes, "rows": found.org_rows[code],
             "rejected": per_org[code]["rejected"], "create": per_org[code]["create"],
             "active": per_org[code]["active"], "disabled": per_org[code]["disabled"],
             "lso": per_org[code]["lso"], "auto_merged_rows": per_org[code]["auto_merged_rows"],
             "already_migrated": per_org[code]["already_migrated"],
             "collision": per_org[code]["collision"]}
            for code, scope in sorted(policy.organisations.items())],
        "rejected": [{"row": r.row, "line": r.line, "legacy_id": r.legacy_id,
                      "organisation": r.org_code, "reasons": list(r.reasons),
                      "message": r.message} for r in found.rejections],
        "auto_merges": auto_merges,
        "suggested_merges": suggestions,
        "conflicts": conflicts,
        "lsos": lsos,
        "sign_off": None,
    }
    return plan, found.lines


def _conflict(kind: str, planned: PlannedIdentity) -> dict[str, Any]:
    rows = [row for _lid, row in planned.legacy]
    if kind == "org_mismatch":
        return {"id": _conflict_id(kind, planned.login_id), "kind": kind,
                "login_id": planned.login_id, "rows": rows,
                "resolution": {"organisation": planned.org_code},
                "message": f"{planned.login_id} appears under more than one organisation; it "
                           f"goes to {planned.org_code} (its most recently used account) "
                           "unless you choose another."}
    return {"id": _conflict_id(kind, planned.login_id), "kind": kind,
            "login_id": planned.login_id, "rows": rows, "resolution": {"status": planned.status},
            "message": f"{planned.login_id} has active and disabled accounts; it is migrated "
                       "active with the roles of its active accounts only."}


# ---- plan files ----------------------------------------------------------------------------


def plan_digest(plan: dict[str, Any]) -> str:
    """SHA-256 of the plan without its sign-off: what the sign-off vouches for."""
    body = {k: v for k, v in plan.items() if k != "sign_off"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def identities_path(plan_path: Path) -> Path:
    """The identities file that goes with a plan file: ``plan.json`` → ``plan.identities.tsv``."""
    return plan_path.with_name(f"{plan_path.stem}{IDENTITIES_SUFFIX}")


def write_plan(path: Path, plan: dict[str, Any], identities: bytes | None = None) -> None:
    """Atomically: a temporary file, flushed to disk, then renamed over the target. With
    ``identities`` (from :func:`build_plan_with_identities`), the plan's identities file too,
    first."""
    if identities is not None:
        if hashlib.sha256(identities).hexdigest() != plan["derivation"]["digest"]:
            raise ValueError("these identities are not the ones the plan was derived with")
        _write_atomically(identities_path(path), identities)
    # json.dumps, not json.dump: only the one-shot form uses the C encoder (3x faster).
    text = json.dumps(plan, ensure_ascii=False, separators=(",", ":"))
    _write_atomically(path, (text + "\n").encode())


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load_plan(path: Path) -> dict[str, Any]:
    try:
        # A million-row plan is some hundreds of thousands of small containers: parsed with
        # the collector on, a third of the time went to walking them again.
        with path.open(encoding="utf-8") as handle, collector_paused():
            plan = json.load(handle)
    except FileNotFoundError:
        raise PlanRefused(f"There is no plan file {path.name}; make one with: python main.py "
                          "migrate plan EXPORT --out PLAN.json.") from None
    except (ValueError, UnicodeDecodeError):
        raise PlanRefused(f"{path.name} is not a plan file (not JSON); make a new plan with "
                          "python main.py migrate plan.") from None
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise PlanRefused(f"{path.name} is not a Gatehouse migration plan.")
    if plan.get("format_version") != PLAN_VERSION:
        raise PlanRefused(f"{path.name} is a version {plan.get('format_version')!r} plan; this "
                          f"Gatehouse reads version {PLAN_VERSION}. Make the plan again.")
    sign_off = plan.get("sign_off")
    if sign_off is not None and sign_off.get("digest") != plan_digest(plan):
        raise PlanRefused(f"{path.name} was changed after it was signed off; make the plan "
                          "again and have it signed off anew.")
    return plan


def source_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def check_source(plan: dict[str, Any], path: Path) -> None:
    """Refuse a source file that is not byte for byte the one the plan was made from."""
    try:
        actual = source_sha256(path)
    except FileNotFoundError:
        raise PlanRefused(f"The source file {path.name} is missing; put the export the plan "
                          f"was made from ({plan['source']['name']}) beside the plan.") from None
    if actual != plan["source"]["sha256"]:
        raise PlanRefused(f"{path.name} has changed since the plan was made (its SHA-256 "
                          "differs); make a new plan from this file and have it signed off.")


@dataclass
class Planned:
    """The identities a run creates, in derivation order: one line each (the identities
    file's), parsed a batch at a time — a million parsed identities would hold 1.5 GB, their
    lines a tenth of that — with the plan's organisation choices applied."""

    lines: list[str]
    moves: dict[str, str]  # login ID → organisation chosen by the admin (org_mismatch)

    def __len__(self) -> int:
        return len(self.lines)

    def slice(self, first: int, count: int) -> list[PlannedIdentity]:
        out = []
        moves = self.moves
        for n, line in enumerate(self.lines[first:first + count], start=first):
            planned = PlannedIdentity.from_line(n, line)
            target = moves.get(planned.login_id) if moves else None
            if target and target != planned.org_code:
                planned = PlannedIdentity(**{**_fields(planned), "org_code": target})
            out.append(planned)
        return out


def read_identities(path: Path, plan: dict[str, Any]) -> list[str] | None:
    """The lines of a plan's identities file, or None if there is none or it is not the one
    the plan's digest names (then the identities are derived from the source again)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    derivation = plan["derivation"]
    if hashlib.sha256(data).hexdigest() != derivation["digest"]:
        return None
    lines = data.decode().split("\n")
    if lines.pop() != "" or len(lines) != derivation["identities"]:
        return None
    return lines


def load_planned(plan: dict[str, Any], path: Path, policy: MigrationPolicy,
                 identities: Path | None = None) -> Planned:
    """The identities a run creates, with the plan's conflict resolutions: read from the
    plan's ``identities`` file when it is the one the plan pins, else derived from the source
    again. Refuses a changed source file, policy or derivation."""
    check_source(plan, path)
    if policy.sha256 != plan["policy"]["sha256"]:
        raise PlanRefused("policies/migration.toml has changed since the plan was made; make "
                          "a new plan under the current policy.")
    lines = read_identities(identities, plan) if identities is not None else None
    if lines is None:
        derived = derive(path, policy, fmt=plan["source"]["format"])
        if derived.digest != plan["derivation"]["digest"]:
            raise PlanRefused("This Gatehouse groups the export differently from the one "
                              "that made the plan; make the plan again with this version.")
        lines = derived.lines.decode().split("\n")[:-1]
    moves = {c["login_id"]: c["resolution"]["organisation"] for c in plan["conflicts"]
             if c["kind"] == "org_mismatch"}
    for login_id, target in moves.items():
        if target not in policy.organisations:
            raise PlanRefused(f"The plan moves {login_id} to {target!r}, which is not an "
                              "organisation in scope.")
    return Planned(lines, moves)


def planned_identities(plan: dict[str, Any], path: Path, policy: MigrationPolicy,
                       identities: Path | None = None) -> list[PlannedIdentity]:
    """All of :func:`load_planned`, parsed."""
    found = load_planned(plan, path, policy, identities)
    return found.slice(0, len(found))


def _fields(planned: PlannedIdentity) -> dict[str, Any]:
    return {name: getattr(planned, name) for name in PlannedIdentity.__slots__}


# ---- decisions and sign-off ----------------------------------------------------------------


def decide(plan: dict[str, Any], op: Operator, now: datetime, *, confirm: Iterable[str] = (),
           reject: Iterable[str] = (), confirm_all: bool = False,
           reject_all: bool = False) -> int:
    """Record merge decisions in ``plan`` (in memory). Returns how many changed."""
    require(op, Action.MIGRATION_RUN)
    if plan.get("sign_off") is not None:
        raise PlanRefused("The plan is signed off; its decisions can no longer change. Make a "
                          "new plan to decide differently.")
    by_id = {s["id"]: s for s in plan["suggested_merges"]}
    wanted: dict[str, str] = {}
    for ids, decision in ((confirm, "confirmed"), (reject, "rejected")):
        for sid in ids:
            if sid not in by_id:
                raise InvalidInput(f"The plan has no suggested merge {sid!r}; list them with "
                                   "python main.py migrate plan … --json.")
            if wanted.get(sid, decision) != decision:
                raise InvalidInput(f"{sid} is both confirmed and rejected; choose one.")
            wanted[sid] = decision
    if confirm_all or reject_all:
        bulk = "confirmed" if confirm_all else "rejected"
        for sid, suggestion in by_id.items():
            if suggestion["decision"] is None:
                wanted.setdefault(sid, bulk)
    changed = 0
    for sid, decision in wanted.items():
        suggestion = by_id[sid]
        if suggestion["decision"] != decision:
            suggestion.update(decision=decision, decided_by=op.login_id,
                              decided_at=now.isoformat())
            changed += 1
    return changed


def sign_off(plan: dict[str, Any], op: Operator, now: datetime) -> dict[str, Any]:
    """Record who signed the plan off and when, over a digest of everything else in it."""
    require(op, Action.MIGRATION_RUN)
    if plan.get("sign_off") is not None:
        raise PlanRefused(f"The plan was already signed off by {plan['sign_off']['by']}.")
    open_ = sum(1 for s in plan["suggested_merges"] if s["decision"] is None)
    if open_:
        raise PlanRefused(f"{open_} suggested merges are undecided; confirm or reject them "
                          "first (python main.py migrate decide PLAN --confirm ID / --reject ID"
                          " / --reject-all).")
    plan["sign_off"] = {"by": op.login_id, "at": now.isoformat(), "digest": plan_digest(plan)}
    return plan["sign_off"]  # type: ignore[no-any-return]
