"""Applying a merge plan, and undoing it.

A merge runs in one transaction: every account's row is locked (in subject order, so two
admins merging overlapping sets queue instead of deadlocking), its version and roles compared
with the plan, and only then changed. Absorbed accounts become aliases (status ``merged``,
``merged_into`` the survivor) and keep their login ID, password hash and name untouched, so
that an unmerge can give everything back; their roles move to the survivor. The state before
— statuses, organisations, versions, every role with its grant time — goes into the audit
event and the ``merge_record`` row (never a password hash, token or seed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from policies.merge_policy import MergePolicy, load_merge_policy
from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import CheckFailed, Conflict, GatehouseError, InvalidInput, NotFound
from services.merge.plan import (
    AccountSnapshot,
    MergePlan,
    build_plan,
    check_mergeable,
    entitlement_rows,
    find_account,
    snapshot,
)
from services.store.schema import (
    audit_event,
    cli_session,
    email_change,
    entitlement,
    identity,
    merge_record,
    mfa_credential,
    organisation,
    product,
    recovery_code,
    reset_token,
)
from services.users import IdentityDetail, load_detail

STATE_FORMAT = 1
_MAX_ALIAS_DEPTH = 32


class UnmergeRefused(GatehouseError):
    """The merged identity changed since the merge in a way an unmerge cannot undo exactly."""


@dataclass(frozen=True)
class MergeResult:
    event_id: str  # the audit event's id: what ``unmerge`` takes
    audit_seq: int
    survivor: IdentityDetail
    absorbed: tuple[str, ...]  # subjects, now aliases of the survivor
    revoked_resets: int
    authenticators_retired: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "audit_seq": self.audit_seq,
                "survivor": self.survivor.as_dict(), "absorbed": list(self.absorbed),
                "revoked_resets": self.revoked_resets,
                "authenticators_retired": self.authenticators_retired,
                "notes": list(self.notes)}


@dataclass(frozen=True)
class UnmergeResult:
    event_id: str  # the unmerge's own audit event
    merge_event_id: str
    survivor: IdentityDetail
    restored: tuple[IdentityDetail, ...]
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "merge_event_id": self.merge_event_id,
                "survivor": self.survivor.as_dict(),
                "restored": [d.as_dict() for d in self.restored], "notes": list(self.notes)}


def resolve_subject(conn: Connection, subject: str) -> str:
    """The identity ``subject`` now stands for: itself, or — for a merged alias — the survivor
    it was merged into, followed through later merges."""
    seen = {subject}
    current = subject
    for _ in range(_MAX_ALIAS_DEPTH):
        row = conn.execute(select(identity.c.status, identity.c.merged_into)
                           .where(identity.c.subject == current)).one_or_none()
        if row is None or row.status != "merged" or row.merged_into is None:
            return current
        current = str(row.merged_into)
        if current in seen:
            break
        seen.add(current)
    raise InvalidInput(f"The merged identity {subject} points round in a circle; ask a platform "
                       "admin to check its merge records.")


# ---- merge ---------------------------------------------------------------------------------


def _lock(conn: Connection, subjects: Sequence[str]) -> None:
    """Lock the rows in one order (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers)."""
    conn.execute(select(identity.c.subject).where(identity.c.subject.in_(list(subjects)))
                 .order_by(identity.c.subject).with_for_update()).all()


def _same_as_planned(fresh: AccountSnapshot, planned: AccountSnapshot) -> bool:
    return (fresh.version == planned.version and fresh.entitlements == planned.entitlements
            and fresh.status == planned.status and fresh.org_code == planned.org_code)


def _bump(ctx: Context, conn: Connection, subject: str, version: int, what: str,
          values: dict[str, Any]) -> None:
    changed = conn.execute(
        update(identity).where(and_(identity.c.subject == subject, identity.c.version == version))
        .values(**values, version=identity.c.version + 1, updated_at=ctx.now())).rowcount
    if changed != 1:
        raise Conflict(what)


def _state_of(snap: AccountSnapshot, org_id: int, ents: list[tuple[str, str, datetime]],
              role: str) -> dict[str, Any]:
    return {"subject": snap.subject, "login_id": snap.login_id, "part": role,
            "status": snap.status, "organisation": snap.org_code, "organisation_id": org_id,
            "version": snap.version,
            "entitlements": [{"product": p, "role": r, "granted_at": g.isoformat()}
                             for p, r, g in ents]}


def _org_ids(conn: Connection) -> dict[str, int]:
    return {r.code: r.id for r in conn.execute(select(organisation.c.code, organisation.c.id))}


def _product_ids(conn: Connection) -> dict[str, int]:
    return {r.code: r.id for r in conn.execute(select(product.c.code, product.c.id))}


def _event_id(conn: Connection, seq: int) -> str:
    return str(conn.execute(select(audit_event.c.event_id).where(audit_event.c.seq == seq)
                            ).scalar_one())


def apply_merge(ctx: Context, conn: Connection, op: Operator, plan: MergePlan, *,
                reason: str = "", policy: MergePolicy | None = None) -> MergeResult:
    """Apply ``plan`` inside the caller's transaction (a migration batch uses this).

    Refuses with ``Conflict`` — before changing anything — if any account changed since the
    plan was made, and with ``CheckFailed`` if the plan still has conflicts to settle.
    """
    require(op, Action.IDENTITY_MERGE)
    if plan.conflicts:
        raise CheckFailed("The merge plan has unresolved conflicts: "
                          + " ".join(c.message for c in plan.conflicts)
                          + " Settle them and make the plan again.")
    policy = policy or load_merge_policy()
    planned = plan.accounts
    subjects = [a.subject for a in planned]
    if len(set(subjects)) != len(subjects):
        raise InvalidInput("The merge plan names one account twice; make the plan again.")
    now = ctx.now()
    _lock(conn, subjects)
    fresh: list[AccountSnapshot] = []
    for want in planned:
        try:
            got, merged_into = snapshot(conn, want.subject, now)
        except NotFound:
            raise Conflict(f"The account {want.login_id}") from None
        if not _same_as_planned(got, want):
            raise Conflict(f"The account {got.login_id}")
        check_mergeable(got, merged_into)
        fresh.append(got)
    rebuilt = build_plan(fresh[0], fresh[1:], organisation=plan.organisation_choice,
                         keep_roles=plan.keep_roles, policy=policy, planned_at=now,
                         planned_by=op.login_id)
    if rebuilt.conflicts or rebuilt.entitlements != plan.entitlements \
            or rebuilt.organisation != plan.organisation or rebuilt.status != plan.status:
        # The accounts are as planned, so only the policy or the file itself can differ.
        raise CheckFailed("The merge plan no longer matches the merge policy or was edited; "
                          "make the plan again and review it.")
    survivor, absorbed = fresh[0], fresh[1:]
    orgs, products = _org_ids(conn), _product_ids(conn)
    assert rebuilt.organisation is not None
    ents = entitlement_rows(conn, subjects)
    before_accounts = [_state_of(a, orgs[a.org_code], ents[a.subject],
                                 "survivor" if a is survivor else "absorbed") for a in fresh]

    for account in absorbed:
        _bump(ctx, conn, account.subject, account.version, f"The account {account.login_id}",
              {"status": "merged", "merged_into": survivor.subject})
    _bump(ctx, conn, survivor.subject, survivor.version, f"The account {survivor.login_id}",
          {"status": rebuilt.status, "organisation_id": orgs[rebuilt.organisation]})

    # The union keeps each role's earliest grant time: the person has held it since then.
    granted: dict[str, datetime] = {}
    for subject in subjects:
        for p, r, g in ents[subject]:
            key = f"{p}:{r}"
            if key in rebuilt.entitlements and (key not in granted or g < granted[key]):
                granted[key] = g
    conn.execute(delete(entitlement).where(entitlement.c.subject.in_(subjects)))
    if granted:
        conn.execute(insert(entitlement), [
            {"subject": survivor.subject, "product_id": products[key.split(":", 1)[0]],
             "role": key.split(":", 1)[1], "granted_at": at}
            for key, at in sorted(granted.items())])

    absorbed_subjects = [a.subject for a in absorbed]
    revoked = conn.execute(update(reset_token).where(and_(
        reset_token.c.subject.in_(absorbed_subjects), reset_token.c.used_at.is_(None),
        reset_token.c.revoked_at.is_(None))).values(revoked_at=now)).rowcount
    # A pending change of login ID on an alias would move an ID the survivor no longer owns.
    conn.execute(update(email_change).where(and_(
        email_change.c.subject.in_(absorbed_subjects), email_change.c.used_at.is_(None),
        email_change.c.revoked_at.is_(None))).values(revoked_at=now))
    # An absorbed account's second factor never becomes the survivor's (issue 4): retired,
    # like an admin's MFA reset, with its recovery codes and command-line sessions.
    retired = conn.execute(update(mfa_credential).where(and_(
        mfa_credential.c.subject.in_(absorbed_subjects),
        mfa_credential.c.status.in_(("active", "pending"))))
        .values(status="retired", retired_at=now, version=mfa_credential.c.version + 1)).rowcount
    conn.execute(delete(recovery_code).where(recovery_code.c.subject.in_(absorbed_subjects)))
    conn.execute(update(cli_session).where(and_(
        cli_session.c.subject.in_(absorbed_subjects), cli_session.c.revoked_at.is_(None)))
        .values(revoked_at=now))

    after = {"survivor": {"subject": survivor.subject, "status": rebuilt.status,
                          "organisation": rebuilt.organisation,
                          "organisation_id": orgs[rebuilt.organisation],
                          "entitlements": list(rebuilt.entitlements),
                          "version": survivor.version + 1},
             "absorbed": [{"subject": a.subject, "login_id": a.login_id, "status": "merged",
                           "version": a.version + 1} for a in absorbed],
             "dropped_roles": list(rebuilt.dropped_roles),
             "revoked_resets": revoked, "authenticators_retired": retired}
    seq = ctx.record(conn, op, "identity.merge", "identity", survivor.subject, reason=reason,
                     change=Change(before={"accounts": before_accounts}, after=after))
    event_id = _event_id(conn, seq)
    state = {"format": STATE_FORMAT, "accounts": before_accounts, "after": after}
    conn.execute(insert(merge_record).values(
        event_id=event_id, survivor=survivor.subject, absorbed=json.dumps(absorbed_subjects),
        before_state=json.dumps(state, sort_keys=True, separators=(",", ":")),
        merged_at=now, merged_by=op.login_id, version=1))
    return MergeResult(event_id=event_id, audit_seq=seq,
                       survivor=load_detail(conn, survivor.subject),
                       absorbed=tuple(absorbed_subjects), revoked_resets=revoked,
                       authenticators_retired=retired, notes=rebuilt.notes)


def merge(ctx: Context, op: Operator, plan: MergePlan, *, reason: str = "",
          policy: MergePolicy | None = None) -> MergeResult:
    """Apply ``plan`` in a transaction of its own: all of it, or nothing."""
    require(op, Action.IDENTITY_MERGE)
    with ctx.store.write() as conn:
        return apply_merge(ctx, conn, op, plan, reason=reason, policy=policy)


# ---- unmerge -------------------------------------------------------------------------------


def _find_record(conn: Connection, event: str) -> Any:
    event = event.strip()
    if event.isdigit():  # the audit sequence number, as the audit list shows it
        found = conn.execute(select(audit_event.c.event_id).where(
            audit_event.c.seq == int(event))).scalar_one_or_none()
        event = str(found) if found else event
    row = conn.execute(select(merge_record).where(merge_record.c.event_id == event)
                       ).one_or_none()
    if row is None:
        raise NotFound(f"No merge was recorded with the event {event}; find it with: python "
                       "main.py audit list (action identity.merge).")
    return row


def _current(conn: Connection, subject: str) -> Any:
    return conn.execute(select(identity.c.subject, identity.c.login_id, identity.c.status,
                               identity.c.merged_into, identity.c.organisation_id,
                               identity.c.version).where(identity.c.subject == subject)).one()


def _roles(ents: list[tuple[str, str, datetime]]) -> list[str]:
    return sorted(f"{p}:{r}" for p, r, _g in ents)


def _why_not_exact(conn: Connection, record: Any, state: dict[str, Any]) -> list[str]:
    """What changed since the merge that an unmerge could not undo exactly (empty: nothing)."""
    reasons: list[str] = []
    after = state["after"]
    survivor = _current(conn, record.survivor)
    later = conn.execute(select(merge_record.c.event_id).where(and_(
        merge_record.c.survivor == record.survivor, merge_record.c.id > record.id,
        merge_record.c.unmerged_at.is_(None))).order_by(merge_record.c.id.desc())).first()
    if later is not None:
        reasons.append(f"{survivor.login_id} absorbed more accounts later (event "
                       f"{later.event_id}); unmerge that merge first.")
    if survivor.status != after["survivor"]["status"]:
        reasons.append(f"{survivor.login_id} is now {survivor.status}, not "
                       f"{after['survivor']['status']} as the merge left it.")
    if survivor.organisation_id != after["survivor"]["organisation_id"]:
        reasons.append(f"{survivor.login_id} was moved to another organisation after the merge.")
    roles = _roles(entitlement_rows(conn, [record.survivor])[record.survivor])
    if later is None and roles != after["survivor"]["entitlements"]:
        reasons.append(f"{survivor.login_id}'s roles changed after the merge (now "
                       f"{', '.join(roles) or 'none'}; the merge left "
                       f"{', '.join(after['survivor']['entitlements']) or 'none'}), so it is not "
                       "known whose each role would be.")
    for alias in after["absorbed"]:
        now = _current(conn, alias["subject"])
        if now.status != "merged" or now.merged_into != record.survivor \
                or now.version != alias["version"]:
            reasons.append(f"{now.login_id} changed after the merge (it is now {now.status}).")
        elif entitlement_rows(conn, [alias["subject"]])[alias["subject"]]:
            reasons.append(f"{now.login_id} was given roles after the merge.")
    return reasons


def unmerge(ctx: Context, op: Operator, survivor_key: str, event_id: str, *,
            reason: str = "") -> UnmergeResult:
    """Split a merge back: every account gets back its status, organisation and roles (with
    their grant times) as they were before it; all versions move on.

    Refused, with the reasons, when something changed since that an unmerge could not undo
    exactly (the survivor's roles, status or organisation, a later merge, a changed alias).
    Reset links revoked and authenticators retired by the merge stay so (a second factor or a
    reset link is never brought back to life): a new reset or enrolment is made instead.
    """
    require(op, Action.IDENTITY_MERGE)
    with ctx.store.write() as conn:
        record = _find_record(conn, event_id)
        survivor_subject = find_account(conn, survivor_key)
        if survivor_subject != record.survivor:
            raise InvalidInput(f"The merge {record.event_id} was into another identity "
                               f"({record.survivor}); name that identity as the survivor.")
        if record.unmerged_at is not None:
            raise InvalidInput(f"The merge {record.event_id} was already undone on "
                               f"{record.unmerged_at:%Y-%m-%d %H:%M} UTC by "
                               f"{record.unmerged_by}.")
        state = json.loads(record.before_state)
        accounts = state["accounts"]
        _lock(conn, [a["subject"] for a in accounts])
        reasons = _why_not_exact(conn, record, state)
        if reasons:
            raise UnmergeRefused("This merge cannot be undone exactly: " + " ".join(reasons)
                                 + " Put those back first, or split the accounts by hand.")
        products = _product_ids(conn)
        current = {a["subject"]: _current(conn, a["subject"]) for a in accounts}
        before_now = {"survivor": record.survivor, "absorbed": json.loads(record.absorbed),
                      "survivor_status": current[record.survivor].status,
                      "survivor_entitlements": state["after"]["survivor"]["entitlements"]}
        for account in accounts:
            now_row = current[account["subject"]]
            _bump(ctx, conn, account["subject"], now_row.version,
                  f"The account {account['login_id']}",
                  {"status": account["status"], "merged_into": None,
                   "organisation_id": account["organisation_id"]})
        conn.execute(delete(entitlement).where(
            entitlement.c.subject.in_([a["subject"] for a in accounts])))
        grants = [{"subject": a["subject"], "product_id": products[e["product"]],
                   "role": e["role"], "granted_at": datetime.fromisoformat(e["granted_at"])}
                  for a in accounts for e in a["entitlements"]]
        if grants:
            conn.execute(insert(entitlement), grants)
        restored_state = [{"subject": a["subject"], "login_id": a["login_id"],
                           "status": a["status"], "organisation": a["organisation"],
                           "entitlements": [f"{e['product']}:{e['role']}"
                                            for e in a["entitlements"]]} for a in accounts]
        seq = ctx.record(conn, op, "identity.unmerge", "identity", record.survivor,
                         reason=reason, change=Change(
                             before=before_now,
                             after={"merge_event": record.event_id, "accounts": restored_state}))
        changed = conn.execute(update(merge_record).where(and_(
            merge_record.c.id == record.id, merge_record.c.version == record.version))
            .values(unmerged_at=ctx.now(), unmerged_by=op.login_id,
                    version=merge_record.c.version + 1)).rowcount
        if changed != 1:
            raise Conflict("This merge record")
        details = {a["subject"]: load_detail(conn, a["subject"]) for a in accounts}
        notes = ("Reset links revoked and authenticators retired by the merge stay so: start a "
                 "new reset, or have the person enrol again, where one is still needed.",)
        return UnmergeResult(
            event_id=_event_id(conn, seq), merge_event_id=record.event_id,
            survivor=details[record.survivor],
            restored=tuple(d for s, d in details.items() if s != record.survivor), notes=notes)


def merge_history(ctx: Context, op: Operator, survivor_key: str) -> list[dict[str, Any]]:
    """The merges into an identity, newest first: what an unmerge dialog offers."""
    require(op, Action.IDENTITY_MERGE)
    with ctx.store.read() as conn:
        subject = find_account(conn, survivor_key)
        rows = conn.execute(select(merge_record).where(merge_record.c.survivor == subject)
                            .order_by(merge_record.c.id.desc())).all()
        logins = {r.subject: r.login_id for r in conn.execute(
            select(identity.c.subject, identity.c.login_id).where(identity.c.subject.in_(
                [s for row in rows for s in json.loads(row.absorbed)])))}
    return [{"event_id": r.event_id, "merged_at": r.merged_at.isoformat(),
             "merged_by": r.merged_by,
             "absorbed": [logins.get(s, s) for s in json.loads(r.absorbed)],
             "unmerged_at": r.unmerged_at.isoformat() if r.unmerged_at else None,
             "unmerged_by": r.unmerged_by} for r in rows]
