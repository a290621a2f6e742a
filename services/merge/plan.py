"""A merge plan: the read-only preview of combining one person's accounts into one.

The plan says what the merged identity will be — the login ID kept (the survivor's), the
entitlements (the union, product by product), the organisation, the status, whether MFA is
required — and lists the conflicts an admin must settle first. It captures each account's
version and entitlements, so that applying it later refuses if anything changed meanwhile.
``build_plan`` is a pure function of account snapshots: the apply step rebuilds the plan from
fresh snapshots with the same choices and compares, so a plan file edited by hand cannot apply
anything its inputs do not justify.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from policies.merge_policy import MergePolicy, load_merge_policy
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import InvalidInput, NotFound
from services.identity import normalise_email
from services.merge.mfa_rule import mfa_required
from services.store.schema import (
    entitlement,
    identity,
    mfa_credential,
    organisation,
    product,
    reset_token,
)
from services.users import parse_role

FORMAT = "gatehouse-merge-plan/1"
MAX_ABSORBED = 20  # one person's accounts; more is a mistake in the selection
MERGEABLE_STATUSES = ("active", "reset_required", "locked", "disabled")


@dataclass(frozen=True)
class AccountSnapshot:
    """One account as the plan saw it (no password hash: only whether it has one)."""

    subject: str
    login_id: str
    email: str
    given_name: str
    family_name: str
    org_code: str
    status: str
    version: int
    entitlements: tuple[str, ...]  # "PRODUCT:role", sorted
    has_password: bool
    open_resets: int  # reset links neither used, revoked nor expired
    mfa_enrolled: bool = False  # has an authenticator in use

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["entitlements"] = list(self.entitlements)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccountSnapshot:
        return cls(
            subject=_text(data, "subject"), login_id=_text(data, "login_id"),
            email=_text(data, "email"), given_name=_text(data, "given_name"),
            family_name=_text(data, "family_name"), org_code=_text(data, "org_code"),
            status=_text(data, "status"), version=_int(data, "version"),
            entitlements=tuple(_texts(data, "entitlements")),
            has_password=bool(data.get("has_password")), open_resets=_int(data, "open_resets"),
            mfa_enrolled=bool(data.get("mfa_enrolled")))


@dataclass(frozen=True)
class PlanConflict:
    """Something the admin must decide before the plan can be applied."""

    kind: str  # "organisation" or "exclusive_roles"
    message: str  # a sentence saying what to decide
    choices: tuple[str, ...]  # org codes, or the "PRODUCT:role" texts of which one is kept

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "choices": list(self.choices)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanConflict:
        return cls(kind=_text(data, "kind"), message=_text(data, "message"),
                   choices=tuple(_texts(data, "choices")))


@dataclass(frozen=True)
class MergePlan:
    survivor: AccountSnapshot
    absorbed: tuple[AccountSnapshot, ...]
    organisation_choice: str | None  # what the admin chose (None: no choice made)
    keep_roles: tuple[str, ...]  # the admin's answers to exclusive-role conflicts
    organisation: str | None  # the merged identity's org code; None while in conflict
    entitlements: tuple[str, ...]  # the merged identity's roles, "PRODUCT:role", sorted
    dropped_roles: tuple[str, ...]  # held by some account, not kept (exclusive pairs)
    status: str  # the merged identity's status
    mfa_required: bool  # the result holds a role that requires MFA
    revoke_resets: int  # open reset links of absorbed accounts, revoked on merge
    conflicts: tuple[PlanConflict, ...]
    notes: tuple[str, ...]  # sentences for the preview
    planned_at: datetime
    planned_by: str

    @property
    def login_id(self) -> str:
        """The login ID kept: the survivor's. Absorbed IDs stay reserved by their aliases."""
        return self.survivor.login_id

    @property
    def can_apply(self) -> bool:
        return not self.conflicts

    @property
    def gained_roles(self) -> tuple[str, ...]:
        return tuple(r for r in self.entitlements if r not in self.survivor.entitlements)

    @property
    def accounts(self) -> tuple[AccountSnapshot, ...]:
        return (self.survivor, *self.absorbed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "login_id": self.login_id,
            "survivor": self.survivor.as_dict(),
            "absorbed": [a.as_dict() for a in self.absorbed],
            "choices": {"organisation": self.organisation_choice,
                        "keep_roles": list(self.keep_roles)},
            "result": {
                "login_id": self.login_id,
                "organisation": self.organisation,
                "entitlements": list(self.entitlements),
                "gained_roles": list(self.gained_roles),
                "dropped_roles": list(self.dropped_roles),
                "status": self.status,
                "reset_required": self.status == "reset_required",
                "mfa_required": self.mfa_required,
                "revoke_resets": self.revoke_resets,
            },
            "conflicts": [c.as_dict() for c in self.conflicts],
            "can_apply": self.can_apply,
            "notes": list(self.notes),
            "planned_at": self.planned_at.isoformat(),
            "planned_by": self.planned_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MergePlan:
        """A plan read back from its JSON file; a malformed file is refused as bad input."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise InvalidInput("This is not a Gatehouse merge plan; make one with: python "
                               "main.py identity merge-plan SURVIVOR OTHER… --out PLAN.json.")
        try:
            choices = data["choices"]
            result = data["result"]
            absorbed = data["absorbed"]
            if not isinstance(absorbed, list) or not isinstance(choices, Mapping) \
                    or not isinstance(result, Mapping):
                raise TypeError("wrong shape")
            organisation_choice = choices.get("organisation")
            org = result.get("organisation")
            return cls(
                survivor=AccountSnapshot.from_dict(data["survivor"]),
                absorbed=tuple(AccountSnapshot.from_dict(a) for a in absorbed),
                organisation_choice=str(organisation_choice) if organisation_choice else None,
                keep_roles=tuple(_texts(choices, "keep_roles")),
                organisation=str(org) if org else None,
                entitlements=tuple(_texts(result, "entitlements")),
                dropped_roles=tuple(_texts(result, "dropped_roles")),
                status=_text(result, "status"),
                mfa_required=bool(result.get("mfa_required")),
                revoke_resets=_int(result, "revoke_resets"),
                conflicts=tuple(PlanConflict.from_dict(c) for c in data["conflicts"]),
                notes=tuple(_texts(data, "notes")),
                planned_at=datetime.fromisoformat(_text(data, "planned_at")),
                planned_by=_text(data, "planned_by"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"The merge plan file is damaged ({type(exc).__name__}: {exc}); "
                               "make a new one with: python main.py identity merge-plan.") from None


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be text")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{key} must be a whole number")
    return value


def _texts(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{key} must be a list of texts")
    return list(value)


# ---- building a plan (pure) ----------------------------------------------------------------


def role_text(text: str) -> str:
    """``des:Viewer`` → ``DES:viewer``; refuses anything not written PRODUCT:ROLE."""
    code, role = parse_role(text)
    return f"{code}:{role}"


def _resolve_exclusive(union: set[str], keep: set[str], policy: MergePolicy) -> tuple[
        set[str], list[PlanConflict]]:
    """Which roles to drop so that no exclusive pair remains, from the admin's choices.

    A pair where exactly one role is kept drops the other; dropping can settle other pairs
    (A–B, B–C with A and C kept drops only B). Pairs left with neither role kept are conflicts.
    """
    dropped: set[str] = set()
    conflicts: list[PlanConflict] = []
    for a, b in policy.exclusive_roles:
        if a in union and b in union:
            if a in keep and b in keep:
                conflicts.append(PlanConflict(
                    "exclusive_roles",
                    f"{a} and {b} may not be held together and both were chosen to be kept; "
                    "choose one of them.", (a, b)))
            elif a in keep:
                dropped.add(b)
            elif b in keep:
                dropped.add(a)
    kept = union - dropped
    for a, b in policy.exclusive_roles:
        if a in kept and b in kept and not (a in keep and b in keep):
            conflicts.append(PlanConflict(
                "exclusive_roles",
                f"The merged identity would hold both {a} and {b}, which policy keeps apart "
                "(separation of duties); choose which one it keeps.", (a, b)))
    return dropped, conflicts


def build_plan(survivor: AccountSnapshot, absorbed: Sequence[AccountSnapshot], *,
               organisation: str | None, keep_roles: Iterable[str], policy: MergePolicy,
               planned_at: datetime, planned_by: str) -> MergePlan:
    accounts = (survivor, *absorbed)
    keep = tuple(sorted({role_text(r) for r in keep_roles}))
    union = {r for a in accounts for r in a.entitlements}
    for role in keep:
        if role not in union:
            raise InvalidInput(f"None of these accounts holds {role}, so it cannot be kept; "
                               "choose among the roles in conflict.")
        if not policy.exclusive_with(role):
            raise InvalidInput(f"{role} is in no conflict: every role is kept unless policy "
                               "keeps it apart from another. Remove this choice.")
    conflicts: list[PlanConflict] = []

    orgs = sorted({a.org_code for a in accounts})
    chosen = organisation.strip().upper() if organisation else None
    if chosen is not None and chosen not in orgs:
        raise InvalidInput(f"{chosen} is not the organisation of any of these accounts; choose "
                           f"one of {', '.join(orgs)}.")
    result_org = chosen or (orgs[0] if len(orgs) == 1 else None)
    if result_org is None:
        conflicts.append(PlanConflict(
            "organisation",
            f"These accounts belong to different organisations ({', '.join(orgs)}); choose the "
            "one the merged identity belongs to.", tuple(orgs)))

    dropped, role_conflicts = _resolve_exclusive(union, set(keep), policy)
    conflicts.extend(role_conflicts)
    result_roles = tuple(sorted(union - dropped))

    status = survivor.status
    notes: list[str] = []
    forced = [a.login_id for a in absorbed if a.status == "reset_required"]
    if forced and status == "active":
        status = "reset_required"
        notes.append(f"{', '.join(forced)} had to set a new password, so the merged identity "
                     "must set one too.")
    if status in ("locked", "disabled"):
        notes.append(f"The survivor {survivor.login_id} is {status}; the merged identity stays "
                     f"{status} until an admin changes it.")
    needs_mfa = mfa_required(result_roles)
    if needs_mfa and survivor.mfa_enrolled:
        notes.append("The merged identity holds a role that requires MFA; the authenticator "
                     f"of {survivor.login_id} is kept.")
    elif needs_mfa:
        notes.append("The merged identity holds a role that requires MFA and "
                     f"{survivor.login_id} has no authenticator: it must enrol at its next "
                     "sign-in (an absorbed account's enrolment is never carried over).")
    enrolled = [a.login_id for a in absorbed if a.mfa_enrolled]
    if enrolled:
        notes.append(f"The authenticators and recovery codes of {', '.join(enrolled)} will be "
                     "retired.")
    revoke = sum(a.open_resets for a in absorbed)
    if revoke:
        notes.append(f"{revoke} open password-reset link(s) of the absorbed accounts will be "
                     "revoked.")
    gained = [r for r in result_roles if r not in survivor.entitlements]
    if gained:
        notes.append(f"{survivor.login_id} gains {', '.join(gained)}.")
    if dropped:
        notes.append(f"Not kept (by your choice): {', '.join(sorted(dropped))}.")
    notes.append("The absorbed login IDs "
                 f"({', '.join(a.login_id for a in absorbed)}) stay reserved as aliases of "
                 f"{survivor.login_id}, so an unmerge can give them back.")
    return MergePlan(
        survivor=survivor, absorbed=tuple(absorbed), organisation_choice=chosen,
        keep_roles=keep, organisation=result_org, entitlements=result_roles,
        dropped_roles=tuple(sorted(dropped)), status=status, mfa_required=needs_mfa,
        revoke_resets=revoke, conflicts=tuple(conflicts), notes=tuple(notes),
        planned_at=planned_at, planned_by=planned_by)


# ---- reading accounts ----------------------------------------------------------------------


def find_account(conn: Connection, key: str) -> str:
    """The subject named by a login ID (as typed) or a subject id, whatever its status.

    Unlike a look-up that follows merges, this names the alias itself: merging needs to know
    that the account typed is already an alias.
    """
    key = key.strip()
    try:
        subject = str(uuid.UUID(key))
    except ValueError:
        login_id = normalise_email(key).login_id
        found = conn.execute(select(identity.c.subject).where(
            identity.c.login_id == login_id, identity.c.status != "deleted")
        ).scalar_one_or_none()
        if found is None:
            raise NotFound(f"No identity has the login ID {login_id!r}; check the spelling or "
                           "search with: python main.py users list.") from None
        return str(found)
    if conn.execute(select(identity.c.subject).where(identity.c.subject == subject)
                    ).scalar_one_or_none() is None:
        raise NotFound(f"No identity has the subject id {subject}.")
    return subject


def entitlement_rows(conn: Connection, subjects: Sequence[str]) -> dict[str, list[
        tuple[str, str, datetime]]]:
    """Each subject's (product code, role, granted_at), sorted."""
    rows = conn.execute(
        select(entitlement.c.subject, product.c.code, entitlement.c.role,
               entitlement.c.granted_at)
        .join(product, product.c.id == entitlement.c.product_id)
        .where(entitlement.c.subject.in_(list(subjects)))
        .order_by(entitlement.c.subject, product.c.code, entitlement.c.role)).all()
    found: dict[str, list[tuple[str, str, datetime]]] = {s: [] for s in subjects}
    for row in rows:
        found[row.subject].append((row.code, row.role, row.granted_at))
    return found


def snapshot(conn: Connection, subject: str, now: datetime) -> tuple[AccountSnapshot, str | None]:
    """The account as it is now, and the survivor it was merged into (if it is an alias)."""
    row = conn.execute(
        select(identity, organisation.c.code.label("org_code"))
        .join(organisation, organisation.c.id == identity.c.organisation_id)
        .where(identity.c.subject == subject)).one_or_none()
    if row is None:
        raise NotFound(f"No identity has the subject id {subject}.")
    ents = entitlement_rows(conn, [subject])[subject]
    open_resets = len(conn.execute(select(reset_token.c.id).where(and_(
        reset_token.c.subject == subject, reset_token.c.used_at.is_(None),
        reset_token.c.revoked_at.is_(None), reset_token.c.expires_at > now))).all())
    enrolled = conn.execute(select(mfa_credential.c.id).where(
        mfa_credential.c.subject == subject, mfa_credential.c.status == "active")).first()
    snap = AccountSnapshot(
        subject=row.subject, login_id=row.login_id, email=row.email, given_name=row.given_name,
        family_name=row.family_name, org_code=row.org_code, status=row.status,
        version=row.version, entitlements=tuple(f"{p}:{r}" for p, r, _g in ents),
        has_password=row.password_hash is not None, open_resets=open_resets,
        mfa_enrolled=enrolled is not None)
    return snap, row.merged_into


def check_mergeable(snap: AccountSnapshot, merged_into: str | None) -> None:
    if snap.status == "deleted":
        raise InvalidInput(f"{snap.login_id} is deleted; restore it before merging it.")
    if snap.status == "merged":
        raise InvalidInput(f"{snap.login_id} was already merged into the identity {merged_into}; "
                           "merge that identity instead, or unmerge it first.")
    if snap.status not in MERGEABLE_STATUSES:
        raise InvalidInput(f"{snap.login_id} is {snap.status}; it cannot be merged.")


def load_accounts(conn: Connection, survivor_key: str, other_keys: Sequence[str],
                  now: datetime) -> tuple[AccountSnapshot, list[AccountSnapshot]]:
    if not other_keys:
        raise InvalidInput("Name at least one account to merge into the survivor.")
    if len(other_keys) > MAX_ABSORBED:
        raise InvalidInput(f"At most {MAX_ABSORBED} accounts can be merged into one at a time; "
                           "merge them in several steps.")
    subjects = [find_account(conn, survivor_key)] + [find_account(conn, k) for k in other_keys]
    if len(set(subjects)) != len(subjects):
        raise InvalidInput("The same account is named twice; name each account once, and the "
                           "survivor not again among the others.")
    snaps = []
    for subject in subjects:
        snap, merged_into = snapshot(conn, subject, now)
        check_mergeable(snap, merged_into)
        snaps.append(snap)
    return snaps[0], snaps[1:]


def plan_merge(ctx: Context, op: Operator, survivor_key: str, other_keys: Sequence[str], *,
               organisation: str | None = None, keep_roles: Iterable[str] = (),
               policy: MergePolicy | None = None) -> MergePlan:
    """Preview merging ``other_keys`` into ``survivor_key``; changes nothing.

    ``organisation`` (an org code) settles accounts in different organisations;
    ``keep_roles`` ("PRODUCT:role") settles exclusive-role conflicts by naming the role kept.
    """
    require(op, Action.IDENTITY_MERGE)
    policy = policy or load_merge_policy()
    now = ctx.now()
    with ctx.store.read() as conn:
        survivor, absorbed = load_accounts(conn, survivor_key, list(other_keys), now)
    return build_plan(survivor, absorbed, organisation=organisation, keep_roles=keep_roles,
                      policy=policy, planned_at=now, planned_by=op.login_id)
