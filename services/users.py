"""Identities: list, search, show, add, rename and disable, with permission checks inside."""

from __future__ import annotations

import json
import unicodedata
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from services.audit import Change
from services.authz import Action, Operator, Role, allowed, require
from services.context import Context
from services.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from services.identity import describe_flags, normalise_email
from services.orgs import org_by_code
from services.store.schema import TOOL_PRODUCT, entitlement, identity, organisation, product
from services.tombstones import refuse_if_cooling_off, unclaimed

SORT_KEYS = ("family_name", "given_name", "login_id", "organisation", "status", "updated_at")


@dataclass(frozen=True)
class IdentitySummary:
    subject: str
    login_id: str
    email: str
    given_name: str
    family_name: str
    org_code: str
    org_name: str
    status: str
    version: int
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["updated_at"] = self.updated_at.isoformat()
        return data


@dataclass(frozen=True)
class IdentityDetail(IdentitySummary):
    organisation_id: int
    flags: tuple[str, ...]
    has_password: bool
    created_at: datetime
    entitlements: tuple[tuple[str, str], ...]  # (product code, role)
    phone: str | None = None
    job_title: str | None = None
    merged_into: str | None = None  # an absorbed account: the identity it now belongs to

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["created_at"] = self.created_at.isoformat()
        data["entitlements"] = [{"product": p, "role": r} for p, r in self.entitlements]
        data["flags"] = list(self.flags)
        return data

    @property
    def tool_roles(self) -> frozenset[Role]:
        return frozenset(Role(r) for p, r in self.entitlements if p == TOOL_PRODUCT)


_SUMMARY_COLUMNS = (
    identity.c.subject, identity.c.login_id, identity.c.email, identity.c.given_name,
    identity.c.family_name, organisation.c.code.label("org_code"),
    organisation.c.name.label("org_name"), identity.c.status, identity.c.version,
    identity.c.updated_at,
)


def clean_name(value: str, what: str) -> str:
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        raise InvalidInput(f"The {what} is empty; type it as the person writes it.")
    if len(text) > 200:
        raise InvalidInput(f"The {what} is longer than 200 characters; shorten it.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text):
        raise InvalidInput(f"The {what} {text!r} contains control characters; retype it.")
    return text


def parse_role(text: str) -> tuple[str, str]:
    product_code, sep, role = text.partition(":")
    if not sep or not product_code.strip() or not role.strip():
        raise InvalidInput(f"The role {text!r} must be written PRODUCT:ROLE, e.g. DES:viewer.")
    return product_code.strip().upper(), role.strip().lower()


def scope_identities(query: Select[Any], op: Operator) -> Select[Any]:
    """Limit a query to what the operator may read."""
    if op.roles & {Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER}:
        return query
    if Role.LSO in op.roles:
        return query.where(or_(identity.c.organisation_id == op.organisation_id,
                               identity.c.subject == op.subject))
    return query.where(identity.c.subject == op.subject)


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(query: Select[Any], text: str) -> Select[Any]:
    for word in text.lower().split():
        pattern = "%" + _escape_like(word) + "%"
        query = query.where(or_(
            identity.c.login_id.like(pattern, escape="\\"),
            func.lower(identity.c.given_name).like(pattern, escape="\\"),
            func.lower(identity.c.family_name).like(pattern, escape="\\"),
            func.lower(organisation.c.code).like(pattern, escape="\\"),
        ))
    return query


# Rows that are not people to list: deleted identities (restorable) and merged aliases.
HIDDEN_STATUSES = ("deleted", "merged")


def _base(op: Operator, search: str, include_deleted: bool) -> Select[Any]:
    query = select(*_SUMMARY_COLUMNS).join(organisation,
                                          organisation.c.id == identity.c.organisation_id)
    if not include_deleted:
        query = query.where(identity.c.status.notin_(HIDDEN_STATUSES))
    return _search(scope_identities(query, op), search)


def list_identities(ctx: Context, op: Operator, *, search: str = "", order_by: str = "family_name",
                    descending: bool = False, limit: int | None = None, offset: int = 0,
                    include_deleted: bool = False) -> list[IdentitySummary]:
    if order_by not in SORT_KEYS:
        raise InvalidInput(f"Cannot sort by {order_by!r}; use one of {', '.join(SORT_KEYS)}.")
    key = organisation.c.name if order_by == "organisation" else identity.c[order_by]
    keys = [key.desc() if descending else key.asc(), identity.c.login_id, identity.c.subject]
    query = _base(op, search, include_deleted).order_by(*keys).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with ctx.store.read() as conn:
        rows = conn.execute(query).all()
    return [IdentitySummary(**row._mapping) for row in rows]


def count_identities(ctx: Context, op: Operator, *, search: str = "",
                     include_deleted: bool = False) -> int:
    query = select(func.count()).select_from(_base(op, search, include_deleted).subquery())
    with ctx.store.read() as conn:
        return int(conn.execute(query).scalar_one())


def find_subject(conn: Connection, key: str) -> str:
    key = key.strip()
    try:
        return str(uuid.UUID(key))
    except ValueError:
        pass
    login_id = normalise_email(key).login_id
    subject = conn.execute(select(identity.c.subject).where(
        identity.c.login_id == login_id, identity.c.status != "deleted")).scalar_one_or_none()
    if subject is None:
        raise NotFound(f"No identity has the login ID {login_id!r}; check the spelling or "
                       "search with: python main.py users list.")
    return str(subject)


def load_detail(conn: Connection, subject: str) -> IdentityDetail:
    row = conn.execute(
        select(*_SUMMARY_COLUMNS, identity.c.organisation_id, identity.c.flags,
               identity.c.password_hash, identity.c.created_at, identity.c.phone,
               identity.c.job_title, identity.c.merged_into)
        .join(organisation, organisation.c.id == identity.c.organisation_id)
        .where(identity.c.subject == subject)
    ).one_or_none()
    if row is None:
        raise NotFound(f"No identity has the subject id {subject}.")
    ents = conn.execute(
        select(product.c.code, entitlement.c.role).join(product)
        .where(entitlement.c.subject == subject).order_by(product.c.code, entitlement.c.role)
    ).all()
    data = dict(row._mapping)
    data["flags"] = tuple(f for f in data.pop("flags").split(",") if f)
    data["has_password"] = data.pop("password_hash") is not None
    return IdentityDetail(entitlements=tuple((p, r) for p, r in ents), **data)


def get_identity(ctx: Context, op: Operator, key: str) -> IdentityDetail:
    """``key`` is a login ID (as typed) or a subject id."""
    with ctx.store.read() as conn:
        detail = load_detail(conn, find_subject(conn, key))
        if detail.merged_into:
            # An account merged into another still resolves: to the person it now belongs to.
            from services.merge import resolve_subject  # merge builds on this module

            detail = load_detail(conn, resolve_subject(conn, detail.subject))
    if not allowed(op, Action.IDENTITY_READ, org_id=detail.organisation_id,
                   subject=detail.subject):
        # The same answer as for an address nobody holds: no telling who exists elsewhere.
        raise NotFound(f"No identity has the login ID {detail.login_id!r}; check the spelling "
                       "or search with: python main.py users list.")
    return detail


def require_manage(op: Operator, action: Action, target: IdentityDetail) -> None:
    """Permission to change ``target``: the role's scope, and never someone more privileged.

    An LSO administers the people of their own organisation, but not a platform admin or a
    security reviewer who happens to belong to it.
    """
    require(op, action, org_id=target.organisation_id)
    if target.status == "merged":
        # Every change to an absorbed account goes through its survivor or an unmerge, so
        # the merge record stays able to split them back exactly.
        raise InvalidInput(f"{target.login_id} was merged into another identity; change that "
                           "identity instead, or unmerge them first.")
    if Role.PLATFORM_ADMIN not in op.roles and target.tool_roles & {
            Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER}:
        raise PermissionDenied("Only a platform admin can change an account that holds "
                               "platform admin or security reviewer rights.")


def _resolve_roles(conn: Connection, op: Operator, roles: list[str]) -> list[tuple[int, str, str]]:
    products = {r.code: (r.id, json.loads(r.roles)) for r in conn.execute(select(product)).all()}
    resolved = []
    for text in roles:
        code, role = parse_role(text)
        if code not in products:
            raise InvalidInput(f"There is no product {code!r}; use one of "
                               f"{', '.join(sorted(products))}.")
        product_id, allowed_roles = products[code]
        if role not in allowed_roles:
            raise InvalidInput(f"{code} has no role {role!r}; its roles are "
                               f"{', '.join(allowed_roles)}.")
        if code == TOOL_PRODUCT:
            require(op, Action.TOOL_ROLE_GRANT)
        resolved.append((product_id, code, role))
    return sorted(set(resolved))


def add_identity(ctx: Context, op: Operator, email: str, given_name: str, family_name: str,
                 org_code: str, roles: list[str] | None = None, *, allow_flagged: bool = False,
                 password_hash: str | None = None) -> IdentityDetail:
    """Create an identity. Without a password it must set one (``reset_required``)."""
    address = normalise_email(email)
    if address.flagged and not allow_flagged:
        raise InvalidInput(f"{describe_flags(address)}. Check it with the person; if it is "
                           "right, confirm it explicitly (--allow-confusable).")
    given, family = clean_name(given_name, "given name"), clean_name(family_name, "family name")
    now = ctx.now()
    subject = str(uuid.uuid4())
    with ctx.store.write() as conn:
        org = org_by_code(conn, org_code)
        require(op, Action.IDENTITY_CREATE, org_id=org.id)
        resolved = _resolve_roles(conn, op, roles or [])
        refuse_if_cooling_off(conn, address.login_id, now)
        if unclaimed(conn, address.login_id):
            raise InvalidInput(
                f"The login ID {address.login_id!r} belonged to a deleted identity. Give it to "
                "someone new with: python main.py identity claim — which shows who held it.")
        status = "active" if password_hash else "reset_required"
        try:
            with conn.begin_nested():
                conn.execute(insert(identity).values(
                    subject=subject, login_id=address.login_id, email=address.email,
                    given_name=given, family_name=family, organisation_id=org.id, status=status,
                    password_hash=password_hash, flags=",".join(address.flags), version=1,
                    created_at=now, updated_at=now))
        except IntegrityError:
            raise AlreadyExists(f"An identity with the login ID {address.login_id!r} already "
                                "exists; open it instead of adding another.") from None
        for product_id, _code, role in resolved:
            conn.execute(insert(entitlement).values(subject=subject, product_id=product_id,
                                                    role=role, granted_at=now))
        ctx.record(conn, op, "identity.create", "identity", subject, change=Change(after={
            "login_id": address.login_id, "email": address.email, "given_name": given,
            "family_name": family, "organisation": org.code, "status": status,
            "entitlements": [f"{c}:{r}" for _p, c, r in resolved],
            "flags": list(address.flags)}))
        return load_detail(conn, subject)


def update_versioned(ctx: Context, conn: Connection, subject: str, expected_version: int,
                     values: dict[str, Any]) -> None:
    """Change an identity row only if nobody changed it since ``expected_version`` was read."""
    result = conn.execute(
        update(identity)
        .where(and_(identity.c.subject == subject, identity.c.version == expected_version))
        .values(**values, version=identity.c.version + 1, updated_at=ctx.now())
    )
    if result.rowcount != 1:
        raise Conflict("This identity")


def rename_identity(ctx: Context, op: Operator, key: str, expected_version: int,
                    given_name: str, family_name: str) -> IdentityDetail:
    given, family = clean_name(given_name, "given name"), clean_name(family_name, "family name")
    with ctx.store.write() as conn:
        before = load_detail(conn, find_subject(conn, key))
        require_manage(op, Action.IDENTITY_UPDATE, before)
        update_versioned(ctx, conn, before.subject, expected_version,
                {"given_name": given, "family_name": family})
        ctx.record(conn, op, "identity.rename", "identity", before.subject, change=Change(
            before={"given_name": before.given_name, "family_name": before.family_name},
            after={"given_name": given, "family_name": family}))
        return load_detail(conn, before.subject)


def enable_identity(ctx: Context, op: Operator, key: str, *, expected_version: int | None = None,
                    reason: str = "") -> IdentityDetail:
    """Undo a disable: the identity returns as ``reset_required`` if it has no password."""
    with ctx.store.write() as conn:
        before = load_detail(conn, find_subject(conn, key))
        require_manage(op, Action.IDENTITY_DISABLE, before)
        if before.status != "disabled":
            raise InvalidInput(f"{before.login_id} is {before.status}, not disabled.")
        status = "active" if before.has_password else "reset_required"
        update_versioned(ctx, conn, before.subject,
                before.version if expected_version is None else expected_version,
                {"status": status})
        ctx.record(conn, op, "identity.enable", "identity", before.subject, reason=reason,
                   change=Change(before={"status": "disabled"}, after={"status": status}))
        return load_detail(conn, before.subject)


def disable_identity(ctx: Context, op: Operator, key: str, *, expected_version: int | None = None,
                     reason: str = "") -> IdentityDetail:
    with ctx.store.write() as conn:
        before = load_detail(conn, find_subject(conn, key))
        require_manage(op, Action.IDENTITY_DISABLE, before)
        if before.subject == op.subject:
            raise InvalidInput("You cannot disable your own account; ask another admin.")
        if before.status == "disabled":
            raise InvalidInput(f"{before.login_id} is already disabled.")
        update_versioned(ctx, conn, before.subject,
                before.version if expected_version is None else expected_version,
                {"status": "disabled"})
        ctx.record(conn, op, "identity.disable", "identity", before.subject, reason=reason,
                   change=Change(before={"status": before.status}, after={"status": "disabled"}))
        return load_detail(conn, before.subject)
