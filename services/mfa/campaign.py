"""Enrolment campaigns and the coverage report (Entra's registration campaign and its
authentication-methods activity report, for a targeted population).

A platform admin requires the holders of a role — all of them, or those of chosen
organisations — to enrol by a date. Each target's deadline becomes that date (or stays earlier
if it already was), reminders are queued in the outbox, and the report lists every targeted
identity with its status and the coverage per organisation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from services.audit import Change
from services.authz import Action, Operator, Role, allowed, require
from services.context import Context
from services.errors import InvalidInput, NotFound
from services.mfa import engine
from services.orgs import org_by_code
from services.store.schema import (
    TOOL_PRODUCT,
    entitlement,
    identity,
    mfa_account,
    mfa_campaign,
    mfa_campaign_target,
    mfa_credential,
    organisation,
    product,
)

CAMPAIGN_ROLES = (Role.LSO.value, Role.PLATFORM_ADMIN.value, Role.SECURITY_REVIEWER.value)
REPORT_STATUSES = ("enrolled", "pending", "overdue", "locked", "reset")
_TARGETABLE = ("active", "reset_required", "locked")  # people who can still sign in


@dataclass(frozen=True)
class CampaignSummary:
    id: int
    role: str
    org_codes: tuple[str, ...]  # empty: every organisation
    enrol_by: datetime
    targets: int
    reminders_queued: int

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["org_codes"] = list(self.org_codes)
        data["enrol_by"] = self.enrol_by.isoformat()
        return data


@dataclass(frozen=True)
class ReportRow:
    subject: str
    login_id: str
    given_name: str
    family_name: str
    org_code: str
    org_name: str
    roles: tuple[str, ...]  # tool roles
    status: str  # one of REPORT_STATUSES
    enrol_by: datetime | None
    enrolled_at: datetime | None
    locked_until: datetime | None
    reset_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = list(self.roles)
        for name in ("enrol_by", "enrolled_at", "locked_until", "reset_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data


@dataclass(frozen=True)
class Coverage:
    """Counts per status for one organisation (or, with ``org_code`` "ALL", everyone)."""

    org_code: str
    org_name: str
    total: int
    enrolled: int
    pending: int
    overdue: int
    locked: int
    reset: int

    @property
    def with_mfa(self) -> int:
        return self.enrolled + self.locked  # a locked person has an authenticator

    @property
    def coverage_percent(self) -> float:
        return round(100 * self.with_mfa / self.total, 1) if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["with_mfa"] = self.with_mfa
        data["coverage_percent"] = self.coverage_percent
        return data


@dataclass(frozen=True)
class CoverageReport:
    generated_at: datetime
    campaign_id: int | None  # None: every campaign target and every required role holder
    rows: tuple[ReportRow, ...]
    organisations: tuple[Coverage, ...]
    totals: Coverage

    def as_dict(self) -> dict[str, Any]:
        return {"generated_at": self.generated_at.isoformat(), "campaign_id": self.campaign_id,
                "identities": [r.as_dict() for r in self.rows],
                "organisations": [c.as_dict() for c in self.organisations],
                "totals": self.totals.as_dict()}


# ---- starting a campaign and reminding --------------------------------------------------------


def _holders(conn: Connection, role: str, org_ids: Sequence[int]) -> list[Any]:
    query = (select(identity.c.subject, identity.c.email, identity.c.given_name)
             .join(entitlement, entitlement.c.subject == identity.c.subject)
             .join(product, product.c.id == entitlement.c.product_id)
             .where(product.c.code == TOOL_PRODUCT, entitlement.c.role == role,
                    identity.c.status.in_(_TARGETABLE))
             .order_by(identity.c.login_id))
    if org_ids:
        query = query.where(identity.c.organisation_id.in_(org_ids))
    return list(conn.execute(query).all())


def start_campaign(ctx: Context, op: Operator, *, role: str, enrol_by: datetime,
                   org_codes: Sequence[str] = ()) -> CampaignSummary:
    """Require the holders of ``role`` (in ``org_codes``, or everywhere) to enrol by a date."""
    require(op, Action.MFA_MANAGE)
    if role not in CAMPAIGN_ROLES:
        raise InvalidInput(f"A campaign targets one of the roles {', '.join(CAMPAIGN_ROLES)}, "
                           f"not {role!r}.")
    now = ctx.now()
    if enrol_by.tzinfo is None or enrol_by <= now:
        raise InvalidInput("The enrolment date must be in the future (a UTC date such as "
                           f"{now.date().replace(year=now.year + 1).isoformat()}).")
    with ctx.store.write() as conn:
        orgs = [org_by_code(conn, code) for code in dict.fromkeys(c.upper() for c in org_codes)]
        codes = tuple(o.code for o in orgs)
        result = conn.execute(insert(mfa_campaign).values(
            role=role, org_codes=json.dumps(list(codes)), enrol_by=enrol_by, created_at=now,
            created_by=op.login_id, version=1))
        assert result.inserted_primary_key is not None
        campaign_id = int(result.inserted_primary_key[0])
        targets = _holders(conn, role, [o.id for o in orgs])
        for person in targets:
            conn.execute(insert(mfa_campaign_target).values(
                campaign_id=campaign_id, subject=person.subject, added_at=now))
            engine.ensure_account(conn, person.subject, now)
            conn.execute(update(mfa_account).where(
                mfa_account.c.subject == person.subject,
                mfa_account.c.enrol_by.is_(None) | (mfa_account.c.enrol_by > enrol_by))
                .values(enrol_by=enrol_by, updated_at=now))
        queued = _remind(ctx, conn, campaign_id, enrol_by, now)
        ctx.record(conn, op, "mfa.campaign.start", "mfa_campaign", str(campaign_id),
                   change=Change(after={"role": role, "organisations": list(codes),
                                        "enrol_by": enrol_by.isoformat(),
                                        "targets": len(targets), "reminders": queued}))
    return CampaignSummary(campaign_id, role, codes, enrol_by, len(targets), queued)


def _remind(ctx: Context, conn: Connection, campaign_id: int, enrol_by: datetime,
            now: datetime) -> int:
    """Queue a reminder to every target of the campaign who has not enrolled yet."""
    from services.mail.outbox import enqueue

    rows = conn.execute(
        select(identity.c.subject, identity.c.email, identity.c.given_name)
        .join(mfa_campaign_target, mfa_campaign_target.c.subject == identity.c.subject)
        .where(mfa_campaign_target.c.campaign_id == campaign_id,
               identity.c.status.in_(_TARGETABLE))
        .order_by(identity.c.login_id)).all()
    queued = 0
    for person in rows:
        if engine.has_active(conn, person.subject):
            continue
        enqueue(ctx, conn, kind="mfa_campaign", to_address=person.email,
                identity_subject=person.subject,
                values={"given_name": person.given_name,
                        "enrol_by": enrol_by.strftime("%Y-%m-%d %H:%M UTC")})
        conn.execute(update(mfa_campaign_target).where(
            mfa_campaign_target.c.campaign_id == campaign_id,
            mfa_campaign_target.c.subject == person.subject).values(reminded_at=now))
        queued += 1
    return queued


def send_reminders(ctx: Context, op: Operator, campaign_id: int) -> int:
    """Queue another reminder to each target who has not enrolled; returns how many."""
    require(op, Action.MFA_MANAGE)
    now = ctx.now()
    with ctx.store.write() as conn:
        enrol_by = conn.execute(select(mfa_campaign.c.enrol_by).where(
            mfa_campaign.c.id == campaign_id)).scalar_one_or_none()
        if enrol_by is None:
            raise NotFound(f"There is no campaign {campaign_id}; list them with: python "
                           "main.py mfa report.")
        queued = _remind(ctx, conn, campaign_id, enrol_by, now)
        ctx.record(conn, op, "mfa.campaign.remind", "mfa_campaign", str(campaign_id),
                   change=Change(after={"reminders": queued}))
    return queued


# ---- the report ---------------------------------------------------------------------------


def _status(active_at: datetime | None, account: Any, now: datetime) -> str:
    if active_at is not None:
        locked = account is not None and account.locked_until is not None \
            and account.locked_until > now
        return "locked" if locked else "enrolled"
    if account is not None and account.reset_at is not None:
        return "reset"
    if account is not None and account.enrol_by is not None and account.enrol_by <= now:
        return "overdue"
    return "pending"


def _population(conn: Connection, campaign_id: int | None) -> set[str]:
    if campaign_id is not None:
        exists = conn.execute(select(mfa_campaign.c.id).where(
            mfa_campaign.c.id == campaign_id)).first()
        if exists is None:
            raise NotFound(f"There is no campaign {campaign_id}.")
        targets = select(mfa_campaign_target.c.subject).where(
            mfa_campaign_target.c.campaign_id == campaign_id)
        return {r[0] for r in conn.execute(targets)}
    subjects = {r[0] for r in conn.execute(select(mfa_campaign_target.c.subject))}
    required = sorted(engine.current_policy().required_roles)
    holders = (select(entitlement.c.subject).join(product)
               .where(product.c.code == TOOL_PRODUCT, entitlement.c.role.in_(required)))
    return subjects | {r[0] for r in conn.execute(holders)}


def _count(code: str, name: str, rows: Sequence[ReportRow]) -> Coverage:
    counts = {status: sum(1 for r in rows if r.status == status) for status in REPORT_STATUSES}
    return Coverage(org_code=code, org_name=name, total=len(rows), **counts)


def coverage_report(ctx: Context, op: Operator, *, campaign_id: int | None = None,
                    status: str | None = None) -> CoverageReport:
    """Each targeted identity with its status, and coverage per organisation.

    A platform admin or security reviewer sees every organisation; an LSO their own.
    ``status`` filters the rows (the per-organisation counts always cover everyone seen).
    """
    if status is not None and status not in REPORT_STATUSES:
        raise InvalidInput(f"There is no status {status!r}; use one of "
                           f"{', '.join(REPORT_STATUSES)}.")
    if allowed(op, Action.MFA_READ):
        own_org = None
    else:
        require(op, Action.MFA_READ, org_id=op.organisation_id)
        own_org = op.organisation_id
    now = ctx.now()
    with ctx.store.read() as conn:
        subjects = _population(conn, campaign_id)
        query = (select(identity.c.subject, identity.c.login_id, identity.c.given_name,
                        identity.c.family_name, organisation.c.code, organisation.c.name)
                 .join(organisation, organisation.c.id == identity.c.organisation_id)
                 .where(identity.c.status.in_(_TARGETABLE))
                 .order_by(organisation.c.code, identity.c.login_id))
        if own_org is not None:
            query = query.where(identity.c.organisation_id == own_org)
        people = [p for p in conn.execute(query).all() if p.subject in subjects]
        roles: dict[str, list[str]] = {}
        for subject, role in conn.execute(
                select(entitlement.c.subject, entitlement.c.role).join(product)
                .where(product.c.code == TOOL_PRODUCT).order_by(entitlement.c.role)):
            roles.setdefault(subject, []).append(role)
        active = {r.subject: r.confirmed_at for r in conn.execute(
            select(mfa_credential.c.subject, mfa_credential.c.confirmed_at)
            .where(mfa_credential.c.status == "active"))}
        accounts = {r.subject: r for r in conn.execute(select(mfa_account))}
    rows = []
    for p in people:
        account = accounts.get(p.subject)
        rows.append(ReportRow(
            subject=p.subject, login_id=p.login_id, given_name=p.given_name,
            family_name=p.family_name, org_code=p.code, org_name=p.name,
            roles=tuple(roles.get(p.subject, ())),
            status=_status(active.get(p.subject), account, now),
            enrol_by=account.enrol_by if account is not None else None,
            enrolled_at=active.get(p.subject),
            locked_until=account.locked_until if account is not None
            and account.locked_until is not None and account.locked_until > now else None,
            reset_at=account.reset_at if account is not None else None))
    by_org: dict[tuple[str, str], list[ReportRow]] = {}
    for row in rows:
        by_org.setdefault((row.org_code, row.org_name), []).append(row)
    organisations = tuple(_count(code, name, members)
                          for (code, name), members in sorted(by_org.items()))
    shown = tuple(r for r in rows if status is None or r.status == status)
    return CoverageReport(generated_at=now, campaign_id=campaign_id, rows=shown,
                          organisations=organisations, totals=_count("ALL", "Everyone", rows))


def list_campaigns(ctx: Context, op: Operator) -> list[dict[str, Any]]:
    """Every campaign, newest first, with its number of targets."""
    require(op, Action.MFA_READ)
    with ctx.store.read() as conn:
        rows = conn.execute(select(mfa_campaign).order_by(mfa_campaign.c.id.desc())).all()
        counts: dict[int, int] = {}
        for (campaign_id,) in conn.execute(select(mfa_campaign_target.c.campaign_id)):
            counts[campaign_id] = counts.get(campaign_id, 0) + 1
    return [{"id": r.id, "role": r.role, "org_codes": json.loads(r.org_codes),
             "enrol_by": r.enrol_by.isoformat(), "created_at": r.created_at.isoformat(),
             "created_by": r.created_by, "targets": counts.get(r.id, 0)} for r in rows]
