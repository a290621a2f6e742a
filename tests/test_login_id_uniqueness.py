"""One live identity per login ID is a database constraint (partial unique index), not only a
check in Python: a deleted identity's login ID can be reused (DESIGN.md, business rule 1)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError

from services.authz import SYSTEM, Operator
from services.context import Context
from services.errors import AlreadyExists
from services.store.schema import identity, organisation
from services.users import add_identity, get_identity


def live_and_deleted(ctx: Context, login_id: str) -> tuple[int, int]:
    with ctx.store.read() as conn:
        statuses = conn.execute(select(identity.c.status)
                                .where(identity.c.login_id == login_id)).scalars().all()
    deleted = statuses.count("deleted")
    return len(statuses) - deleted, deleted


def test_a_second_live_identity_with_the_same_login_id_is_refused(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    admin = make_person("platform_admin")
    add_identity(ctx, admin, "Alex.Morgan@Northwind.example", "Alex", "Morgan", "XOS")
    with pytest.raises(AlreadyExists) as refused:
        add_identity(ctx, admin, " ALEX.MORGAN@northwind.EXAMPLE", "Alexander", "Morgan", "XOS")
    assert "alex.morgan@northwind.example" in str(refused.value)
    assert live_and_deleted(ctx, "alex.morgan@northwind.example") == (1, 0)


def test_a_deleted_identitys_login_id_can_be_reused_by_a_new_subject(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    admin = make_person("platform_admin")
    first = add_identity(ctx, admin, "alex.morgan@northwind.example", "Alex", "Morgan", "XOS")
    with ctx.store.write() as conn:  # deletion is a later feature; set the state directly
        conn.execute(update(identity).where(identity.c.subject == first.subject)
                     .values(status="deleted"))

    second = add_identity(ctx, admin, "Alex.Morgan@northwind.example", "Alex", "Morgan", "XOS")
    assert second.subject != first.subject  # subject ids are never reissued
    assert get_identity(ctx, admin, "alex.morgan@northwind.example").subject == second.subject
    assert live_and_deleted(ctx, "alex.morgan@northwind.example") == (1, 1)

    with pytest.raises(AlreadyExists):
        add_identity(ctx, admin, "alex.morgan@northwind.example", "Alex", "Morgan", "XOS")
    assert live_and_deleted(ctx, "alex.morgan@northwind.example") == (1, 1)


def test_the_database_itself_refuses_a_second_live_row(ctx: Context, db_url: str,
                                                      make_person: Callable[..., Operator]) -> None:
    make_person("platform_admin")
    add_identity(ctx, SYSTEM, "sam.taylor@northwind.example", "Sam", "Taylor", "XOS")
    engine = create_engine(db_url)  # a plain connection: no service code in the way
    try:
        indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("identity")}
        assert indexes["uq_identity_login_id_live"]["unique"]
        with engine.connect() as conn:
            with conn.begin():
                org_id = conn.execute(select(organisation.c.id)
                                      .where(organisation.c.code == "XOS")).scalar_one()
            now = ctx.now()

            def raw_insert(status: str) -> None:
                with conn.begin():
                    conn.execute(insert(identity).values(
                        subject=str(uuid.uuid4()), login_id="sam.taylor@northwind.example",
                        email="sam.taylor@northwind.example", given_name="Sam",
                        family_name="Taylor", organisation_id=org_id, status=status,
                        version=1, created_at=now, updated_at=now))

            for live_status in ("active", "reset_required", "disabled", "locked"):
                with pytest.raises(IntegrityError):
                    raw_insert(live_status)
            raw_insert("deleted")
            raw_insert("deleted")  # any number of deleted rows may share the login ID
    finally:
        engine.dispose()
    assert live_and_deleted(ctx, "sam.taylor@northwind.example") == (1, 2)
