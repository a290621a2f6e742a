"""The identity store: SQLite by default, PostgreSQL for a shared team deployment."""

from services.store.database import Store, default_sqlite_url, open_store, resolve_url

__all__ = ["Store", "default_sqlite_url", "open_store", "resolve_url"]
