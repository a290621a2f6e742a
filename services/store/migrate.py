"""Alembic migrations applied on open; a store from a newer Gatehouse is refused, not touched."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from services.errors import SchemaTooNew

_SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def upgrade(engine: Engine) -> None:
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    heads = set(script.get_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    with engine.connect() as conn:
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
    with engine.connect() as conn, conn.begin():
        # Several desktops may open a new or older store at once: one migrates, the others
        # wait here (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) and then find
        # nothing left to do.
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7242019)"))
        if set(MigrationContext.configure(conn).get_current_heads()) != heads:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
