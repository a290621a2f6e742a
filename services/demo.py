"""Deterministic synthetic data for demonstrations, tests and benchmarks (no real people).

The same seed gives the same organisations, people, subject ids and roles, every time.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.orgs import insert_org
from services.password_hash import hash_password
from services.setup import ensure_company
from services.store.schema import entitlement, identity, organisation, product
from services.users import add_identity

DEMO_ORGS = (
    ("NWGS", "Northwind Gas Shipping", "shipper", "northwind-gas.example"),
    ("BRWS", "Brightwater Energy Supply", "supplier", "brightwater.example"),
    ("PENN", "Pennine Gas Transmission", "gt", "pennine-gt.example"),
    ("SEVN", "Severn Independent Networks", "igt", "severn-igt.example"),
    ("ORCH", "Orchard Home Energy", "supplier", "orchard-energy.example"),
    ("TYNE", "Tyne Valley Shippers", "shipper", "tyne-valley.example"),
    ("CALD", "Calder Pipelines", "igt", "calder.example"),
)
_PRODUCT_ROLES = (("DES", "viewer"), ("DES", "standard"), ("UKLINK", "viewer"),
                  ("UKLINK", "standard"), ("UKLINK", "submitter"), ("APIDEV", "developer"))

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str


def seed(ctx: Context, op: Operator, *, users: int = 200, seed: int = 1,
         progress: Progress | None = None, batch: int = 5000) -> dict[str, int]:
    """Add ``users`` synthetic identities spread over the demo organisations."""
    from faker import Faker

    require(op, Action.DEMO_SEED)
    if users < 0 or users > 1_000_000:
        raise ValueError("users must be between 0 and 1,000,000")
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not a secret
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    now = ctx.now()
    with ctx.store.write() as conn:
        existing = {r.code: r.id for r in conn.execute(select(organisation.c.code,
                                                              organisation.c.id))}
        for code, name, kind, _domain in DEMO_ORGS:
            if code not in existing:
                existing[code] = insert_org(ctx, conn, op, code, name, kind).id
        products = {r.code: r.id for r in conn.execute(select(product.c.code, product.c.id))}
        taken = {r[0] for r in conn.execute(select(identity.c.login_id))}
        people: list[dict[str, Any]] = []
        grants: list[dict[str, Any]] = []
        for n in range(users):
            code, _name, _kind, domain = DEMO_ORGS[rng.randrange(len(DEMO_ORGS))]
            given, family = fake.first_name(), fake.last_name()
            local = f"{given}.{family}".lower().replace(" ", "").replace("'", "")
            login = f"{local}@{domain}"
            suffix = 1
            while login in taken:
                login, suffix = f"{local}{suffix}@{domain}", suffix + 1
            taken.add(login)
            subject = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            status = "disabled" if rng.random() < 0.05 else "reset_required"
            people.append({"subject": subject, "login_id": login,
                           "email": login.replace(local, f"{given}.{family}".replace(" ", ""), 1),
                           "given_name": given, "family_name": family,
                           "organisation_id": existing[code], "status": status,
                           "password_hash": None, "flags": "", "version": 1,
                           "created_at": now, "updated_at": now})
            for prod, role in rng.sample(_PRODUCT_ROLES, rng.randint(1, 3)):
                grants.append({"subject": subject, "product_id": products[prod], "role": role,
                               "granted_at": now})
            if len(people) >= batch:
                _flush(conn, people, grants)
                if progress:
                    progress(n + 1, users)
        _flush(conn, people, grants)
        if progress:
            progress(users, users)
        ctx.record(conn, op, "demo.seed", "store", ctx.store_id,
                   change=Change(after={"identities": users, "generator": seed}))
    return {"identities": users, "organisations": len(DEMO_ORGS)}


def _flush(conn: Connection, people: list[dict[str, Any]], grants: list[dict[str, Any]]) -> None:
    if people:
        conn.execute(insert(identity), people)
    if grants:
        conn.execute(insert(entitlement), grants)
    people.clear()
    grants.clear()


def first_run(ctx: Context, op: Operator, *, users: int = 200,
              progress: Progress | None = None) -> list[DemoAccount]:
    """A demo store: the company, one account per tool role (fresh random passwords, shown
    once), and ``users`` synthetic identities."""
    ensure_company(ctx)
    accounts = [
        DemoAccount("platform_admin", "admin@xoserve.example", secrets.token_urlsafe(15)),
        DemoAccount("security_reviewer", "reviewer@xoserve.example", secrets.token_urlsafe(15)),
        DemoAccount("lso", "lso@northwind-gas.example", secrets.token_urlsafe(15)),
    ]
    seed(ctx, op, users=users, progress=progress, batch=50)
    names = {"platform_admin": ("Dana", "Admin", "XOS"),
             "security_reviewer": ("Robin", "Reviewer", "XOS"),
             "lso": ("Lesley", "Officer", "NWGS")}
    for account in accounts:
        given, family, org = names[account.role]
        add_identity(ctx, op, account.email, given, family, org,
                     [f"GATEHOUSE:{account.role}", "DES:standard"],
                     password_hash=hash_password(account.password))
    return accounts
