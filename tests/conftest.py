"""Test set-up: offscreen Qt, an in-memory keyring, and every store test on SQLite and, when
GATEHOUSE_TEST_PG names a server, on PostgreSQL too — in a fresh database of this run's own,
dropped at the end, with a schema per test."""

from __future__ import annotations

import os

# Before anything imports Qt or keyring.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.memory_keyring.MemoryKeyring"

import secrets  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import create_engine, make_url  # noqa: E402

from services.authz import SYSTEM, Operator  # noqa: E402
from services.clock import ManualClock  # noqa: E402
from services.context import Context, open_context  # noqa: E402
from tests.memory_keyring import MemoryKeyring  # noqa: E402

PG_ENV = "GATEHOUSE_TEST_PG"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
_ran_on: Counter[str] = Counter()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not os.environ.get(PG_ENV):
        raise pytest.UsageError(f"CI must set {PG_ENV}: store tests run on PostgreSQL too.")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run; unreachable is an error, never a skip."""
    base = make_url(os.environ[PG_ENV]).set(drivername="postgresql+psycopg")
    name = f"gatehouse_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty store URL on each backend."""
    _ran_on[request.param] += 1
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    database = request.getfixturevalue("pg_database")
    schema = f"t_{secrets.token_hex(6)}"
    engine = create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield make_url(database).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.fixture(autouse=True)
def _clean_keyring() -> Iterator[None]:
    MemoryKeyring.entries.clear()
    yield
    MemoryKeyring.entries.clear()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ctx(db_url: str, clock: ManualClock) -> Iterator[Context]:
    context = open_context(db_url, clock=clock)
    yield context
    context.close()


@pytest.fixture
def make_person(ctx: Context) -> Callable[..., Operator]:
    """Create an identity with tool roles in an organisation and return it as an operator."""
    from services.auth import operator_for
    from services.orgs import add_org
    from services.password_hash import hash_password
    from services.setup import ensure_company
    from services.store.schema import organisation
    from services.users import add_identity

    ensure_company(ctx)
    counter = iter(range(1, 10_000))

    def make(*roles: str, org: str = "XOS", password: str | None = None,
             email: str | None = None) -> Operator:
        with ctx.store.read() as conn:
            known = conn.execute(organisation.select().where(organisation.c.code == org)).first()
        if known is None:
            add_org(ctx, SYSTEM, org, f"Organisation {org}", "shipper")
        n = next(counter)
        detail = add_identity(
            ctx, SYSTEM, email or f"person{n}@{org.lower()}.example", "Test", f"Person{n}", org,
            [f"GATEHOUSE:{r}" for r in roles],
            password_hash=hash_password(password) if password else None)
        return operator_for(detail)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _ran_on:
        ran = ", ".join(f"{name}: {count}" for name, count in sorted(_ran_on.items()))
        terminalreporter.write_line(f"store tests per backend — {ran}")
