"""Opening a store: migrations on open, a newer schema refused untouched, URL and reachability
errors as sentences, and the SQLite connection settings DESIGN.md requires."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from services.context import open_context
from services.errors import InvalidInput, SchemaTooNew, StoreUnavailable
from services.store import open_store
from services.store.database import BUSY_TIMEOUT_MS, SQLITE_PAGE_SIZE
from services.store.migrate import alembic_config
from services.store.schema import PRODUCTS


def head_revision() -> str:
    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    return head


def store_state(url: str) -> dict[str, Any]:
    """Everything a migration or a refused open could change, read with a plain engine."""
    engine = create_engine(url)
    try:
        names = sorted(inspect(engine).get_table_names())
        with engine.connect() as conn:
            state: dict[str, Any] = {"tables": names}
            for name in names:
                state[name] = sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{name}"'))),
                                     key=repr)
        return state
    finally:
        engine.dispose()


def test_open_migrates_to_head_and_a_second_open_changes_nothing(db_url: str) -> None:
    open_store(db_url).close()
    first = store_state(db_url)
    assert first["alembic_version"] == [(head_revision(),)]
    assert {row[1] for row in first["product"]} == {code for code, _name, _roles in PRODUCTS}
    assert len(first["audit_head"]) == 1

    open_store(db_url).close()
    assert store_state(db_url) == first


def test_a_store_from_a_newer_gatehouse_is_refused_and_left_untouched(db_url: str) -> None:
    ctx = open_context(db_url)
    ctx.close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    before = store_state(db_url)

    with pytest.raises(SchemaTooNew) as refused:
        open_store(db_url)
    message = str(refused.value)
    assert "9999_future" in message
    assert "upgrade Gatehouse" in message
    assert "nothing was changed" in message
    with pytest.raises(SchemaTooNew):
        open_context(db_url)

    assert store_state(db_url) == before


@pytest.mark.parametrize("url", [
    "not a database url",
    "postgresql+psycopg://gatehouse@db.example:notaport/gatehouse",
    "mysql://gatehouse@db.example/gatehouse",
    "postgresql+asyncpg://gatehouse@db.example/gatehouse",
    "sqlite:///:memory:",
    "sqlite://",
])
def test_a_malformed_or_unsupported_url_is_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        open_store(url)
    message = str(refused.value)
    assert "sqlite:///PATH" in message  # says what to use instead
    assert message.endswith(".")
    assert "\n" not in message


def test_an_unreachable_postgresql_server_is_store_unavailable_with_a_clear_sentence() -> None:
    with pytest.raises(StoreUnavailable) as refused:
        open_store("postgresql+psycopg://gatehouse@127.0.0.1:1/gatehouse")
    message = str(refused.value)
    assert message.startswith("Cannot open the database at postgresql+psycopg://gatehouse@127.0.0.1:1")
    assert "Check that the server is running" in message
    assert "\n" not in message


def test_sqlite_store_connections_use_wal_foreign_keys_full_sync_and_busy_timeout(
        tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        for transaction in (store.read, store.write):
            with transaction() as conn:
                def pragma(name: str, conn: Any = conn) -> Any:
                    return conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()

                assert pragma("journal_mode") == "wal"
                assert pragma("foreign_keys") == 1
                assert pragma("synchronous") == 2  # FULL
                assert pragma("busy_timeout") == BUSY_TIMEOUT_MS
                assert BUSY_TIMEOUT_MS >= 1000
                assert pragma("page_size") == SQLITE_PAGE_SIZE
    finally:
        store.close()


def test_a_store_made_with_another_page_size_keeps_it_and_opens(tmp_path: Path) -> None:
    """The page size is fixed when the file is made: an older store with SQLite's default
    4 KiB pages is migrated and used as it is."""
    import sqlite3

    path = tmp_path / "older.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA page_size=4096")
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE kept (n INTEGER)")
    raw.execute("INSERT INTO kept VALUES (7)")
    raw.commit()
    raw.close()
    store = open_store(f"sqlite:///{path}")
    try:
        with store.write() as conn:
            assert conn.exec_driver_sql("PRAGMA page_size").scalar_one() == 4096
            assert conn.exec_driver_sql("SELECT n FROM kept").scalar_one() == 7
            assert conn.execute(text("SELECT count(*) FROM product")).scalar_one() == len(PRODUCTS)
        with store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    finally:
        store.close()
