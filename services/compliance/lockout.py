"""The lock-out list: which organisations lose access at the TLS 1.2 cut-over, with their users
and the LSOs to notify.

Input is an access-log report analysed with ``noncompliant`` (so that each user's requests
below TLS 1.2 and requests from non-compliant clients are counted). Users are mapped to their
organisation through the identity store (``identity.login_id`` → ``organisation``); the
contacts are that organisation's live identities holding the GATEHOUSE ``lso`` entitlement.
Requests without a user are mapped by client address through ``[organisations] ip_ranges``
in ``policies/tls.toml``. What maps to nothing is listed as "unmapped", never dropped.

The store is only read. Reading people's names across organisations needs a platform admin
or a security reviewer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select

from policies.tls_policy import TlsPolicy
from services.compliance.access_logs import NO_USER, LogReport, UserLockout, shown_user
from services.compliance.log_formats import CLIENT_IP_MARK
from services.errors import PermissionDenied
from services.store.schema import TOOL_PRODUCT, entitlement, identity, organisation, product

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context

UNMAPPED: Final = ""  # the code under which what maps to no organisation is listed
_CHUNK = 500  # bound on an IN (...) list, well under every backend's parameter limit
_LIVE = ("active", "reset_required", "locked")  # people who can still be told


@dataclass(frozen=True)
class Contact:
    login_id: str
    name: str
    email: str

    def as_dict(self) -> dict[str, str]:
        return {"login_id": self.login_id, "name": self.name, "email": self.email}


@dataclass(frozen=True)
class UserEntry:
    user: str  # as shown: a login ID, a remote user, "address 10.0.0.1", or "-"
    mapped_by: str  # "store", "ip_range" or "" when unmapped
    lockout: UserLockout

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.user, "mapped_by": self.mapped_by, **self.lockout.as_dict()}


@dataclass
class OrgLockout:
    code: str  # UNMAPPED for what maps to no organisation
    name: str
    requests: int = 0
    legacy_tls: int = 0
    non_compliant_client: int = 0
    users: list[UserEntry] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)

    def add(self, entry: UserEntry) -> None:
        self.users.append(entry)
        self.requests += entry.lockout.requests
        self.legacy_tls += entry.lockout.legacy_tls
        self.non_compliant_client += entry.lockout.non_compliant_client

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "requests": self.requests,
                "legacy_tls": self.legacy_tls,
                "non_compliant_client": self.non_compliant_client,
                "users": [u.as_dict() for u in self.users],
                "contacts": [c.as_dict() for c in self.contacts]}


@dataclass
class LockoutList:
    organisations: list[OrgLockout]  # most requests first; the unmapped entry last
    store_used: bool

    @property
    def requests(self) -> int:
        return sum(org.requests for org in self.organisations)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "store_used": self.store_used,
                "organisations": [org.as_dict() for org in self.organisations]}


def _login_key(user: str) -> str:
    return user.strip().lower()


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _read_store(ctx: Context, logins: list[str], codes: set[str]) -> tuple[
        dict[str, tuple[int, str, str]], dict[str, tuple[int, str]], dict[int, list[Contact]]]:
    """(login → (org id, code, name), code → (org id, name), org id → LSO contacts)."""
    by_login: dict[str, tuple[int, str, str]] = {}
    by_code: dict[str, tuple[int, str]] = {}
    contacts: dict[int, list[Contact]] = {}
    with ctx.store.read() as conn:
        for chunk in _chunks(logins):
            rows = conn.execute(
                select(identity.c.login_id, organisation.c.id, organisation.c.code,
                       organisation.c.name)
                .join(organisation, organisation.c.id == identity.c.organisation_id)
                .where(identity.c.login_id.in_(chunk), identity.c.status != "deleted"))
            for found in rows:
                by_login[found.login_id] = (found.id, found.code, found.name)
        for chunk in _chunks(sorted(codes)):
            for org in conn.execute(select(organisation.c.id, organisation.c.code,
                                           organisation.c.name)
                                    .where(organisation.c.code.in_(chunk))):
                by_code[org.code] = (org.id, org.name)
        org_ids = sorted({v[0] for v in by_login.values()} | {v[0] for v in by_code.values()})
        for start in range(0, len(org_ids), _CHUNK):
            lsos = conn.execute(
                select(identity.c.organisation_id, identity.c.login_id, identity.c.email,
                       identity.c.given_name, identity.c.family_name)
                .join(entitlement, entitlement.c.subject == identity.c.subject)
                .join(product, product.c.id == entitlement.c.product_id)
                .where(product.c.code == TOOL_PRODUCT, entitlement.c.role == "lso",
                       identity.c.organisation_id.in_(org_ids[start:start + _CHUNK]),
                       identity.c.status.in_(_LIVE))
                .order_by(identity.c.family_name, identity.c.given_name, identity.c.login_id))
            for lso in lsos:
                contacts.setdefault(lso.organisation_id, []).append(Contact(
                    lso.login_id, f"{lso.given_name} {lso.family_name}".strip(), lso.email))
    return by_login, by_code, contacts


def lockout_by_organisation(report: LogReport, policy: TlsPolicy, *,
                            ctx: Context | None = None,
                            op: Operator | None = None) -> LockoutList:
    """Group ``report.by_user_lockout`` by organisation (see the module docstring)."""
    if ctx is not None:
        from services.authz import Role

        if op is None or not op.roles & {Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER}:
            raise PermissionDenied("Mapping log users to organisations reads every "
                                   "organisation's people; sign in as a platform admin or a "
                                   "security reviewer.")
    users = report.by_user_lockout
    ip_codes: dict[str, str | None] = {
        key: policy.organisation_for(key[len(CLIENT_IP_MARK):])
        for key in users if key.startswith(CLIENT_IP_MARK)}
    logins = sorted({_login_key(u) for u in users
                     if u != NO_USER and not u.startswith(CLIENT_IP_MARK)})
    by_login: dict[str, tuple[int, str, str]] = {}
    by_code: dict[str, tuple[int, str]] = {}
    contacts: dict[int, list[Contact]] = {}
    codes = {code for code in ip_codes.values() if code}
    if ctx is not None:
        by_login, by_code, contacts = _read_store(ctx, logins, codes)
    orgs: dict[str, OrgLockout] = {}
    unmapped = OrgLockout(UNMAPPED, "No organisation found")
    for key, lockout in sorted(users.items(), key=lambda item: (-item[1].requests, item[0])):
        if key.startswith(CLIENT_IP_MARK):
            code = ip_codes[key]
            if code is None:
                unmapped.add(UserEntry(shown_user(key), "", lockout))
                continue
            org_id, name = by_code.get(code, (None, code))
            org = orgs.get(code)
            if org is None:
                org = orgs[code] = OrgLockout(code, name,
                                              contacts=list(contacts.get(org_id, []))
                                              if org_id is not None else [])
            org.add(UserEntry(shown_user(key), "ip_range", lockout))
            continue
        found = by_login.get(_login_key(key)) if key != NO_USER else None
        if found is None:
            unmapped.add(UserEntry(shown_user(key), "", lockout))
            continue
        org_id, code, name = found
        org = orgs.get(code)
        if org is None:
            org = orgs[code] = OrgLockout(code, name, contacts=list(contacts.get(org_id, [])))
        org.add(UserEntry(key, "store", lockout))
    ranked = sorted(orgs.values(), key=lambda o: (-o.requests, o.code))
    if unmapped.users:
        ranked.append(unmapped)
    return LockoutList(ranked, store_used=ctx is not None)
