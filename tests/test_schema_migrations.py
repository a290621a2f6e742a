"""The migrations build exactly the tables ``schema.py`` declares, on both backends, and an
upgrade of a store holding data loses none of it (SQLite rebuilds a table to change a
constraint: with foreign keys on, that would cascade-delete every entitlement)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from services.store import open_store
from services.store.migrate import alembic_config
from services.store.schema import metadata

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_migrated_store_matches_the_declared_schema(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
            conn.rollback()
    finally:
        store.close()
    assert diffs == []


def _upgrade(conn_url: str, revision: str) -> None:
    engine = create_engine(conn_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def test_upgrade_from_0002_keeps_identities_and_their_entitlements(db_url: str) -> None:
    _upgrade(db_url, "0002")
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO organisation (id, code, name, type, version, created_at, updated_at)"
                " VALUES (1, 'XOS', 'Xoserve', 'cdsp', 1, :now, :now)"), {"now": NOW})
            des = conn.execute(text("SELECT id FROM product WHERE code = 'DES'")).scalar_one()
            for n in (1, 2):
                conn.execute(text(
                    "INSERT INTO identity (subject, login_id, email, given_name, family_name,"
                    " organisation_id, status, flags, version, created_at, updated_at) VALUES"
                    " (:s, :l, :l, 'Alex', 'Morgan', 1, 'active', '', 1, :now, :now)"),
                    {"s": f"00000000-0000-0000-0000-00000000000{n}",
                     "l": f"alex{n}@xoserve.com", "now": NOW})
                conn.execute(text(
                    "INSERT INTO entitlement (subject, product_id, role, granted_at) VALUES"
                    " (:s, :p, 'viewer', :now)"),
                    {"s": f"00000000-0000-0000-0000-00000000000{n}", "p": des, "now": NOW})
    finally:
        engine.dispose()

    store = open_store(db_url)  # upgrades to head on open
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM entitlement")).scalar_one() == 2
            assert conn.execute(text("SELECT count(*) FROM identity")).scalar_one() == 2
            conn.rollback()
        with store.engine.connect() as conn:
            # The partial unique index survived the rebuild: a second live holder is refused.
            with pytest.raises(IntegrityError), conn.begin():
                conn.execute(text(
                    "INSERT INTO identity (subject, login_id, email, given_name, family_name,"
                    " organisation_id, status, flags, version, created_at, updated_at) VALUES"
                    " ('00000000-0000-0000-0000-000000000009', 'alex1@xoserve.com',"
                    " 'alex1@xoserve.com', 'A', 'M', 1, 'active', '', 1, :now, :now)"),
                    {"now": NOW})
            with pytest.raises(IntegrityError), conn.begin():
                conn.execute(text("UPDATE identity SET status = 'merged' "
                                  "WHERE login_id = 'alex2@xoserve.com'"))
    finally:
        store.close()
