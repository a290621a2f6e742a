"""Alembic migrations applied on open; a store from a newer Gatehouse is refused, not touched."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from services.errors import SchemaTooNew

if TYPE_CHECKING:
    from alembic.config import Config

_SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def _current_fast(engine: Engine) -> set[str] | None:
    """The store's revision read with plain SQL (no alembic import: it costs ~0.3 s of start-up
    on every CLI call); None when the store has no version table yet."""
    with engine.connect() as conn:
        conn = conn.execution_options(gatehouse_write=False)  # a read: no write lock
        if not inspect(conn).has_table("alembic_version"):
            conn.rollback()
            return None
        current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        conn.rollback()
    return current


def _shipped_head() -> str:
    # Linear history, files named "<revision>_<slug>.py": the last is the head.
    return sorted(p.name.split("_", 1)[0] for p in (_SCRIPTS / "versions").glob("[0-9]*_*.py"))[-1]


def upgrade(engine: Engine) -> None:
    if _current_fast(engine) == {_shipped_head()}:
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    heads = set(script.get_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    with engine.connect() as conn:
        conn = conn.execution_options(gatehouse_write=False)
        current = set(MigrationContext.configure(conn).get_current_heads())
        conn.rollback()
    unknown = current - known
    if unknown:
        raise SchemaTooNew(
            f"This store has schema version {', '.join(sorted(unknown))}, written by a newer "
            "Gatehouse than this one; upgrade Gatehouse before opening it (nothing was changed)."
        )
    if current == heads:
        return
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # SQLite rebuilds a table to change a constraint; with foreign keys on, dropping the
            # old copy would cascade-delete every row that refers to it. SQLite's own recipe
            # ("Making Other Kinds Of Table Schema Changes"): keys off outside the transaction,
            # foreign_key_check before commit.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                # Several desktops may open a new or older store at once: one migrates, the
                # others wait here (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL)
                # and then find nothing left to do.
                if not sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(7242019)"))
                if set(MigrationContext.configure(conn).get_current_heads()) != heads:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise RuntimeError("schema upgrade left rows pointing nowhere; "
                                           "nothing was changed")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
