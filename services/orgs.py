"""Organisations: the customer companies (shippers, suppliers, GTs, IGTs) and the company itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select
from sqlalchemy.exc import IntegrityError

from services.audit import Change
from services.authz import Action, Operator, Role, require
from services.context import Context
from services.errors import AlreadyExists, InvalidInput, NotFound
from services.store.schema import ORG_TYPES, organisation

_CODE = re.compile(r"^[A-Z0-9]{2,16}$")


@dataclass(frozen=True)
class Organisation:
    id: int
    code: str
    name: str
    type: str
    version: int

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "type": self.type, "version": self.version}


def _row(row: Row[Any]) -> Organisation:
    return Organisation(id=row.id, code=row.code, name=row.name, type=row.type,
                        version=row.version)


def org_by_code(conn: Connection, code: str) -> Organisation:
    row = conn.execute(select(organisation).where(organisation.c.code == code.strip().upper())
                       ).one_or_none()
    if row is None:
        raise NotFound(f"There is no organisation with code {code.strip().upper()!r}; "
                       "list them with: python main.py orgs list.")
    return _row(row)


def list_orgs(ctx: Context, op: Operator) -> list[Organisation]:
    with ctx.store.read() as conn:
        rows = conn.execute(select(organisation).order_by(organisation.c.name)).all()
    orgs = [_row(r) for r in rows]
    if op.roles & {Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER}:
        return orgs
    visible = [o for o in orgs if o.id == op.organisation_id]
    if not visible:
        require(op, Action.ORG_READ)  # raises: nothing may be seen
    return visible


def validate_org(code: str, name: str, org_type: str) -> tuple[str, str, str]:
    code, name, org_type = code.strip().upper(), " ".join(name.split()), org_type.strip().lower()
    if not _CODE.match(code):
        raise InvalidInput(f"The organisation code {code!r} must be 2 to 16 letters or digits.")
    if not name or len(name) > 200:
        raise InvalidInput("The organisation name must be 1 to 200 characters.")
    if org_type not in ORG_TYPES:
        raise InvalidInput(f"The organisation type {org_type!r} is unknown; use one of "
                           f"{', '.join(ORG_TYPES)}.")
    return code, name, org_type


def insert_org(ctx: Context, conn: Connection, op: Operator, code: str, name: str,
               org_type: str) -> Organisation:
    """Insert within the caller's write transaction (used by ``add_org`` and set-up)."""
    now = ctx.now()
    try:
        with conn.begin_nested():
            new_id = conn.execute(insert(organisation).values(
                code=code, name=name, type=org_type, version=1, created_at=now, updated_at=now,
            ).returning(organisation.c.id)).scalar_one()
    except IntegrityError:
        raise AlreadyExists(f"An organisation with code {code!r} already exists.") from None
    ctx.record(conn, op, "org.create", "organisation", code,
               change=Change(after={"code": code, "name": name, "type": org_type}))
    return Organisation(id=new_id, code=code, name=name, type=org_type, version=1)


def add_org(ctx: Context, op: Operator, code: str, name: str, org_type: str) -> Organisation:
    require(op, Action.ORG_CREATE)
    code, name, org_type = validate_org(code, name, org_type)
    with ctx.store.write() as conn:
        return insert_org(ctx, conn, op, code, name, org_type)
