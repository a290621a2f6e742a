"""Test set-up: offscreen Qt, an in-memory keyring, and every store test on SQLite and, when
GATEHOUSE_TEST_PG names a server, on PostgreSQL too — in a fresh database of this run's own,
dropped at the end, with a schema per test."""

from __future__ import annotations

import os

# Before anything imports Qt or keyring.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.memory_keyring.MemoryKeyring"

import json
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from sqlalchemy import create_engine, inspect, make_url, select

from services.authz import SYSTEM, Operator
from services.clock import ManualClock
from services.context import Context, open_context
from tests.memory_keyring import MemoryKeyring

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
    """Create an identity with tool roles in an organisation and return it as an operator.

    The operator is MFA-verified, as after a sign-in with a correct authenticator code
    (``mfa_verified=True``): privileged services refuse anyone else (issue 6). Tests of the
    second factor itself sign in through ``services.auth`` instead.
    """
    from dataclasses import replace

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
        return replace(operator_for(detail), mfa_verified=True)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _ran_on:
        ran = ", ".join(f"{name}: {count}" for name, count in sorted(_ran_on.items()))
        terminalreporter.write_line(f"store tests per backend — {ran}")


# ---- Additions for the service-level suite (append-only: the fixtures above stay as they are) --

REPO_ROOT = Path(__file__).resolve().parents[1]
# Values that must never appear in an audit row, whatever the test did.
ALWAYS_SECRET = ("$argon2",)


def backend_of(url: str) -> str:
    return make_url(url).get_backend_name()


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@dataclass(frozen=True)
class Call:
    """One CLI invocation for ``Cli.many``."""

    args: tuple[str, ...]
    operator: tuple[str, str] | None = None
    extra_env: dict[str, str] | None = None
    stdin: str = ""


class Cli:
    """``python main.py`` in a subprocess, as a script or a person would run it.

    The subprocesses share a FileKeyring (a JSON file in the test's tmp dir); ``share_keys``
    copies this process's MemoryKeyring into it and ``adopt_keys`` copies it back, so a store
    set up on either side opens on the other.

    Privileged changes need a sign-in with a second factor (issue 6), and a TOTP code works
    once. So the first time an operator who holds the platform_admin or lso role acts on a
    store (``--db``), the fixture enrols an authenticator for them in this process and starts
    a command-line session (``services.mfa.cli_session``), which every later call passes in
    GATEHOUSE_SESSION beside GATEHOUSE_OPERATOR and GATEHOUSE_PASSWORD. Operators whose
    password is wrong, or who hold no privileged role, are left alone. Tests of the second
    factor itself set ``auto_mfa = False``.
    """

    def __init__(self, tmp: Path) -> None:
        self.keyring_file = tmp / "cli-keyring.json"
        self.operator: tuple[str, str] | None = None
        self.auto_mfa = True
        # (store URL, login, password) -> session token
        self.sessions: dict[tuple[str, str, str], str] = {}
        base = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        base.update({
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHON_KEYRING_BACKEND": "tests.memory_keyring.FileKeyring",
            "GATEHOUSE_TEST_KEYRING": str(self.keyring_file),
            "XDG_DATA_HOME": str(tmp / "xdg-data"),  # never the developer's own store
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        self.env = base

    def env_for(self, operator: tuple[str, str] | None = None,
                extra: dict[str, str] | None = None,
                args: tuple[str, ...] = ()) -> dict[str, str]:
        env = dict(self.env)
        who = operator or self.operator
        if who:
            env["GATEHOUSE_OPERATOR"], env["GATEHOUSE_PASSWORD"] = who
        env.update(extra or {})
        # The session belongs to the operator and password finally given, if any.
        login, password = env.get("GATEHOUSE_OPERATOR"), env.get("GATEHOUSE_PASSWORD")
        if login and password is not None and "GATEHOUSE_SESSION" not in env:
            token = self._session_for(args, (login, password))
            if token:
                env["GATEHOUSE_SESSION"] = token
        return env

    def _session_for(self, args: tuple[str, ...], who: tuple[str, str]) -> str | None:
        if not self.auto_mfa or not who[0] or "--db" not in args:
            return None
        db = args[args.index("--db") + 1]
        key = (db, who[0], who[1])
        if key not in self.sessions:
            token = self.mfa_session(db, who)
            if token is None:
                return None
            self.sessions[key] = token
        return self.sessions[key]

    def mfa_session(self, db: str, who: tuple[str, str]) -> str | None:
        """Enrol ``who`` (a privileged person with this password) on the store and start a
        command-line session; None, with nothing changed, for anyone else."""
        import pyotp

        from services.auth import MfaStep, complete_enrolment, sign_in
        from services.authz import Role
        from services.errors import GatehouseError
        from services.identity import login_key
        from services.mfa.cli_session import issue_cli_session
        from services.mfa.enrolment import start_enrolment
        from services.password_hash import verify_password
        from services.store.schema import identity
        from services.users import load_detail

        self.adopt_keys()
        try:
            ctx = open_context(db, create=False)
        except GatehouseError:
            return None  # no store yet
        try:
            with ctx.store.read() as conn:
                row = conn.execute(select(identity.c.subject, identity.c.password_hash).where(
                    identity.c.login_id == login_key(who[0]),
                    identity.c.status != "deleted")).one_or_none()
            # Checked without sign_in, so that a wrong password or someone who needs no
            # second factor leaves no failure and no event behind.
            if row is None or not verify_password(who[1], row.password_hash):
                return None
            with ctx.store.read() as conn:
                detail = load_detail(conn, row.subject)
            if not detail.tool_roles & {Role.PLATFORM_ADMIN, Role.LSO}:
                return None
            session = sign_in(ctx, *who)
            if session.mfa is MfaStep.CODE_NEEDED:
                return None  # the test enrolled them itself
            enrolment = start_enrolment(ctx, session.operator)
            # The subprocesses run on the system clock, and so does this context.
            code = pyotp.TOTP(enrolment.secret).now()
            session, _ = complete_enrolment(ctx, session, code)
            return issue_cli_session(ctx, session.operator).token
        finally:
            ctx.close()

    def __call__(self, *args: str, stdin: str = "", operator: tuple[str, str] | None = None,
                 extra_env: dict[str, str] | None = None, timeout: float = 180) -> CliResult:
        # Bytes, decoded here: text mode would turn the CSV's CR LF into LF.
        done = subprocess.run(
            [sys.executable, "main.py", *args], cwd=REPO_ROOT, input=stdin.encode(),
            capture_output=True, env=self.env_for(operator, extra_env, args), timeout=timeout,
            check=False)
        return CliResult(done.returncode, done.stdout.decode(), done.stderr.decode())

    def many(self, *calls: tuple[str, ...] | Call, operator: tuple[str, str] | None = None,
             timeout: float = 180) -> list[CliResult]:
        """Several independent invocations at once (the machine has more than one core).

        A call is a tuple of arguments (run as ``operator``) or a ``Call`` with its own
        operator, environment and standard input.
        """
        specs = [c if isinstance(c, Call) else Call(c, operator=operator) for c in calls]
        runs = [subprocess.Popen(
            [sys.executable, "main.py", *spec.args], cwd=REPO_ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self.env_for(spec.operator or operator, spec.extra_env, spec.args))
            for spec in specs]
        results = []
        for run, spec in zip(runs, specs, strict=True):
            out, err = run.communicate(spec.stdin.encode(), timeout=timeout)
            results.append(CliResult(run.returncode, out.decode(), err.decode()))
        return results

    def popen(self, *args: str, operator: tuple[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "main.py", *args], cwd=REPO_ROOT, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self.env_for(operator, args=args))

    def file_entries(self) -> dict[str, str]:
        if not self.keyring_file.exists():
            return {}
        entries: dict[str, str] = json.loads(self.keyring_file.read_text())
        return entries

    def share_keys(self) -> None:
        entries = self.file_entries()
        entries.update({f"{service}/{user}": value
                        for (service, user), value in MemoryKeyring.entries.items()})
        self.keyring_file.write_text(json.dumps(entries))

    def adopt_keys(self) -> None:
        for name, value in self.file_entries().items():
            service, _, user = name.partition("/")
            MemoryKeyring.entries[(service, user)] = value


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def another_store_url(db_url: str, request: pytest.FixtureRequest,
                      tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes further empty store URLs on the same backend as ``db_url``."""
    schemas: list[tuple[str, str]] = []  # (database URL, schema)
    count = iter(range(2, 1000))

    def make() -> str:
        n = next(count)
        if backend_of(db_url) == "sqlite":
            return f"sqlite:///{tmp_path / f'store{n}.db'}"
        database = request.getfixturevalue("pg_database")
        schema = f"t_{secrets.token_hex(6)}"
        _pg_admin(database, f"CREATE SCHEMA {schema}")
        schemas.append((database, schema))
        return make_url(database).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)

    yield make
    for database, schema in schemas:
        _pg_admin(database, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _pg_admin(database: str, statement: str) -> None:
    engine = create_engine(database, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture
def secrets_to_scan() -> set[str]:
    """Passwords, passphrases and tokens a test used: no audit row of its store may hold one."""
    return set()


def audit_leaks(url: str, values: set[str]) -> list[str]:
    """Where (event, column) any of ``values`` or an argon2 hash appears in the audit trail."""
    if backend_of(url) == "sqlite":
        database = make_url(url).database
        if not database or not Path(database).exists():
            return []
    engine = create_engine(url)
    try:
        if not inspect(engine).has_table("audit_event"):
            return []
        from services.store.schema import audit_event

        needles = [v for v in {*values, *ALWAYS_SECRET} if v]
        found = []
        with engine.connect() as conn:
            for row in conn.execute(select(audit_event)).mappings():
                for column, value in row.items():
                    text = str(value)
                    for number, needle in enumerate(sorted(needles)):
                        if needle in text or needle.lower() in text.lower():
                            found.append(f"event {row['seq']} column {column} (secret #{number})")
        return found
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _audit_secret_scan(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every store test: no password, passphrase, master key or argon2 hash in the audit
    trail (DESIGN.md: events never carry a password, token or seed)."""
    if "db_url" not in request.fixturenames:
        yield
        return
    url = request.getfixturevalue("db_url")  # torn down after this fixture, so still there
    known: set[str] = request.getfixturevalue("secrets_to_scan")
    runner: Cli | None = request.getfixturevalue("cli") if "cli" in request.fixturenames else None
    yield
    values = set(known) | set(MemoryKeyring.entries.values())
    if runner is not None:
        values |= set(runner.file_entries().values())
    leaks = audit_leaks(url, values)
    if leaks:
        pytest.fail("secrets found in the audit trail: " + "; ".join(leaks[:10]), pytrace=False)


def enrol_verified(ctx: Context, session: Any, secrets_seen: set[str] | None = None) -> Any:
    """Enrol an authenticator for a signed-in person through the real services, at the store's
    clock, and return their ``VERIFIED`` session (``services.auth``). The secret and recovery
    codes are added to ``secrets_seen`` so the audit scan looks for them too."""
    import pyotp

    from services.auth import complete_enrolment
    from services.mfa.enrolment import start_enrolment

    enrolment = start_enrolment(ctx, session.operator)
    verified, confirmed = complete_enrolment(ctx, session,
                                             pyotp.TOTP(enrolment.secret).at(ctx.now()))
    if secrets_seen is not None:
        secrets_seen.add(enrolment.secret)
        secrets_seen.update(confirmed.recovery_codes)
    return verified


# ---- a certificate authority for the loopback TLS servers (tests/loopback_tls.py) --------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path
