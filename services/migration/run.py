"""The run: a signed-off plan executed against the store, in batches, each one transaction.

Why it is safe to kill at any moment
------------------------------------
Batch *n* covers identities ``[n * batch_size, (n + 1) * batch_size)`` of the plan's fixed
derivation order (:func:`services.migration.plan.load_planned`). Everything a batch
writes — identities, entitlements, legacy accounts, reset tokens, outbox messages, audit events
and its own ``migration_batch`` row — commits together or not at all, so a batch is done exactly
when its row exists and a resumed run starts at the first batch without one. A legacy id already
in ``legacy_account`` is skipped whichever run or plan put it there, so a plan run twice, or a
second plan over the same export, changes nothing. Confirmed merges run after the batches,
through the merge engine (``apply_merge`` inside our transaction), and a merge whose accounts
are already merged is skipped: that phase is resumable too.

Why it is fast
--------------
A batch is a handful of ``executemany`` statements (one per table) at the driver level, not a
statement per identity; ids for reset tokens and outbox rows are taken up front (the batch holds
the write lock on SQLite, the sequences on PostgreSQL); the audit events of a batch are chained
in one pass (``AuditLog.append_many``). A batch's rows are written in the order of the indexes
they land in (login ID, code hash, legacy id), so each index takes a batch as one sweep of its
pages rather than a random page per row: that, with a page cache large enough for a batch
(``SQLITE_CACHE_KIB``) and batches of ``run.batch_size`` (policies/migration.toml), is what the
time per row depends on once the indexes outgrow memory. Codes come from ``secrets`` (one read
per batch), only their SHA-256 is stored, and every notification body is sealed by the vault.
Batch n+1 is prepared on a second thread while batch n commits, and only then: the commit
waits on the disk with the GIL released (a million rows: 83 s against 87-94 s; a hundred
thousand: 7.2 s against 7.4 s). Overlapping the preparation with the inserts themselves was
measured and is slower: the driver releases the GIL for every row it steps, and waits for it
back each time. So was preparing and writing a large batch in chunks of 5,000 inside its
transaction (a million rows: 80 s against 76 s), and a WAL checkpoint every few batches
instead of after each (within 2%).
The identities come from the plan's identities file when it is at hand (a million lines are
read and checked in about a second; the export would take twelve to read and validate again),
parsed a batch at a time.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, and_, func, insert, select, update

from policies.merge_policy import load_merge_policy
from policies.migration_policy import MigrationPolicy, load_migration_policy
from services.audit import Change, time_ordered_ids
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import GatehouseError
from services.mail.outbox import seal_values
from services.mail.templates import load as load_template
from services.migration.bulk import collector_paused
from services.migration.plan import (
    Planned,
    PlannedIdentity,
    PlanRefused,
    check_source,
    load_plan,
    load_planned,
    plan_digest,
)
from services.store.schema import (
    UTCDateTime,
    identity,
    legacy_account,
    metadata,
    mfa_account,
    migration_batch,
    migration_identity,
    migration_run,
    organisation,
    outbox,
    product,
    reset_token,
)

NOTICE_KIND = "migration_reset"
TOKEN_BYTES = 32  # 256 bits, as services.reset
MERGES_PER_TRANSACTION = 100
_CHUNK = 500  # values per IN (...) look-up
SQLITE_CACHE_KIB = 131_072

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


@dataclass
class RunSummary:
    plan_id: str
    status: str  # running (stopped by a cancel: resumable) | done
    total_identities: int
    total_batches: int
    batches_done: int  # in the store, this run and earlier ones
    batches_now: int  # run by this call
    created: int = 0
    linked: int = 0
    skipped: int = 0
    tokens: int = 0
    notices: int = 0
    merged: int = 0
    merges_skipped: int = 0
    merges_refused: int = 0
    organisations_created: int = 0
    cancelled: bool = False
    already_done: bool = False
    seconds: float = 0.0
    merge_seconds: float = 0.0  # of which the merge phase

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Prepared:
    """One batch, ready to write: row tuples in the tables' column order (ids for reset
    tokens and outbox rows are taken inside the transaction)."""

    batch_no: int
    first: int
    size: int
    now: datetime = field(default_factory=lambda: datetime.min)
    created: int = 0
    linked: int = 0
    skipped: int = 0
    identities: list[tuple[Any, ...]] = field(default_factory=list)
    entitlements: list[tuple[Any, ...]] = field(default_factory=list)
    legacy: list[tuple[Any, ...]] = field(default_factory=list)
    tracking: list[tuple[Any, ...]] = field(default_factory=list)
    mfa: list[tuple[Any, ...]] = field(default_factory=list)
    tokens: list[tuple[Any, ...]] = field(default_factory=list)
    notices: list[tuple[Any, ...]] = field(default_factory=list)
    notify_index: list[int] = field(default_factory=list)  # which created identity each is for
    events: list[dict[str, Any]] = field(default_factory=list)


# ---- entry point ---------------------------------------------------------------------------


def run_migration(ctx: Context, op: Operator, plan: Path | dict[str, Any], source: Path, *,
                  policy: MigrationPolicy | None = None, progress: Progress | None = None,
                  cancelled: Cancelled | None = None, identities: Path | None = None
                  ) -> RunSummary:
    """Run (or resume) a signed-off plan. Refuses an unsigned plan, a plan edited after its
    sign-off, and a source file whose content differs from the one the plan was made from.
    ``identities`` is the plan's identities file (``plan.identities_path``), which spares
    reading and validating the source again; without it, or if it is not the plan's, the
    identities are derived from the source."""
    require(op, Action.MIGRATION_RUN)
    require(op, Action.IDENTITY_MERGE)
    started = time.perf_counter()
    if isinstance(plan, Path):
        plan = load_plan(plan)
    signed = plan.get("sign_off")
    if signed is None:
        raise PlanRefused("This plan has not been signed off; review it and run: python main.py "
                          "migrate sign-off PLAN.json.")
    if signed.get("digest") != plan_digest(plan):
        raise PlanRefused("The plan was changed after it was signed off; make the plan again "
                          "and have it signed off anew.")
    policy = policy or load_migration_policy()
    plan_id = str(plan["plan_id"])
    with collector_paused():
        existing = _run_row(ctx, plan_id)
        if existing is not None and existing.status == "done":
            _check_same(existing, plan)
            check_source(plan, source)
            return _summary(ctx, plan_id, started, already_done=True)
        planned = load_planned(plan, source, policy, identities)  # refuses a changed source
        runner = _Runner(ctx, op, plan, policy, planned)
        runner.start(existing)
        return runner.go(started, progress, cancelled)


def _run_row(ctx: Context, plan_id: str) -> Any:
    with ctx.store.read() as conn:
        return conn.execute(select(migration_run).where(migration_run.c.plan_id == plan_id)
                            ).one_or_none()


def _check_same(row: Any, plan: dict[str, Any]) -> None:
    if row.plan_digest != plan["sign_off"]["digest"] \
            or row.source_sha256 != plan["source"]["sha256"]:
        raise PlanRefused("A different plan with the same id was already run in this store; "
                          "make a new plan instead of editing one.")


def _summary(ctx: Context, plan_id: str, started: float, *, already_done: bool = False,
             cancelled: bool = False, batches_now: int = 0, counts: dict[str, int] | None = None
             ) -> RunSummary:
    with ctx.store.read() as conn:
        run = conn.execute(select(migration_run).where(migration_run.c.plan_id == plan_id)).one()
        done = conn.execute(select(func.count()).select_from(migration_batch).where(
            migration_batch.c.plan_id == plan_id)).scalar_one()
    summary = RunSummary(plan_id=plan_id, status=run.status,
                         total_identities=run.total_identities, total_batches=run.total_batches,
                         batches_done=int(done), batches_now=batches_now, cancelled=cancelled,
                         already_done=already_done)
    for name, value in (counts or {}).items():
        if name == "merge_ms":
            summary.merge_seconds = value / 1000
        else:
            setattr(summary, name, value)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


# ---- the batches ---------------------------------------------------------------------------


class _Runner:
    def __init__(self, ctx: Context, op: Operator, plan: dict[str, Any],
                 policy: MigrationPolicy, planned: Planned) -> None:
        self.ctx, self.op, self.plan, self.policy, self.planned = ctx, op, plan, policy, planned
        self.plan_id = str(plan["plan_id"])
        self.batch_size = int(plan["policy"]["batch_size"])
        self.total_batches = (len(planned) + self.batch_size - 1) // self.batch_size
        self.counts: dict[str, int] = dict.fromkeys(
            ("created", "linked", "skipped", "tokens", "notices", "merged", "merges_skipped",
             "merges_refused", "organisations_created"), 0)
        confirmed = [s for s in plan["suggested_merges"] if s["decision"] == "confirmed"]
        self.merges = [(str(s["survivor"]), [k for k in s["keys"] if k != s["survivor"]])
                       for s in confirmed]
        # Accounts a confirmed merge absorbs get no reset code of their own: the person sets
        # one password, on the survivor (unless the merge cannot be applied; see _merge_phase).
        self.absorbed = {k for _survivor, others in self.merges for k in others}
        self.merge_policy = load_merge_policy()
        dialect = ctx.store.engine.dialect
        self.qmark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sqlite = dialect.name == "sqlite"
        when = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
        self.when: Callable[[datetime], Any] = when or (lambda v: v)
        self.expiry = ctx.identity_policy.reset_expiry["migration"]
        from services.mfa.engine import current_policy

        self.mfa_grace = current_policy().grace
        self.template = load_template(NOTICE_KIND)
        missing = self.template.requires - {"given_name", "login_id", "token", "expires_at"}
        if missing:  # checked once here: the bodies are rendered only when sent
            raise ValueError(f"the {NOTICE_KIND} template needs {sorted(missing)}")

    # -- set-up --

    def start(self, existing: Any) -> None:
        """Record the run (or check the recorded one) and read what the store holds."""
        now = self.ctx.now()
        with self.ctx.store.write() as conn:
            row = conn.execute(select(migration_run).where(
                migration_run.c.plan_id == self.plan_id).with_for_update()).one_or_none()
            if row is not None:
                _check_same(row, self.plan)
                if row.status != "running":
                    conn.execute(update(migration_run).where(
                        migration_run.c.plan_id == self.plan_id).values(
                        status="running", version=migration_run.c.version + 1))
            else:
                sign = self.plan["sign_off"]
                conn.execute(insert(migration_run).values(
                    plan_id=self.plan_id, plan_digest=sign["digest"],
                    source_sha256=self.plan["source"]["sha256"],
                    source_name=self.plan["source"]["name"][:255], system=self.policy.system,
                    signed_off_by=sign["by"], signed_off_at=datetime.fromisoformat(sign["at"]),
                    batch_size=self.batch_size, total_batches=self.total_batches,
                    total_identities=len(self.planned), status="running",
                    started_by=self.op.login_id, started_at=now, version=1))
                self.ctx.record(conn, self.op, "migration.run_start", "migration_plan",
                                self.plan_id, change=Change(after={
                                    "identities": len(self.planned),
                                    "batches": self.total_batches,
                                    "source_sha256": self.plan["source"]["sha256"]}))
            # What the store already holds, read once: a legacy id maps to one identity and a
            # login ID is planned once, so no batch of this run can add to another's (a
            # concurrent writer is stopped by the primary key and the unique index instead).
            self.known: dict[str, str] = {str(k): str(v) for k, v in conn.execute(
                select(legacy_account.c.legacy_id, legacy_account.c.subject).where(
                    legacy_account.c.system == self.policy.system))}
            self.taken: set[str] = {str(r[0]) for r in conn.execute(
                select(identity.c.login_id).where(identity.c.status != "deleted"))}
            self.orgs = {r.code: r.id for r in conn.execute(
                select(organisation.c.code, organisation.c.id))}
            self.products = {r.code: r.id for r in conn.execute(
                select(product.c.code, product.c.id))}

    def go(self, started: float, progress: Progress | None, cancelled: Cancelled | None
           ) -> RunSummary:
        with self.ctx.store.read() as conn:
            done = {r[0] for r in conn.execute(select(migration_batch.c.batch_no).where(
                migration_batch.c.plan_id == self.plan_id))}
        total = len(self.planned)
        todo = [n for n in range(self.total_batches) if n not in done]
        ran = 0
        # While a batch commits (the driver waits on the disk with the GIL released), the next
        # one is prepared on a second thread; it only reads what the run read at its start.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="migration-prepare") as ahead:
            following: Future[tuple[list[PlannedIdentity], _Prepared | None]] | None = None
            for at, batch_no in enumerate(todo):
                if cancelled and cancelled():
                    if following is not None:
                        following.cancel()
                    return self._stop(started, ran)
                if following is not None:
                    batch, prepared = following.result()
                else:
                    batch = self.planned.slice(batch_no * self.batch_size, self.batch_size)
                    prepared = None
                if prepared is None:
                    self._add_organisations({p.org_code for p in batch} - self.orgs.keys())
                    prepared = self._prepare(batch_no, batch)
                after = todo[at + 1] if at + 1 < len(todo) else None
                following = None

                def prepare_next(after: int | None = after) -> None:
                    nonlocal following
                    if after is not None:
                        following = ahead.submit(self._prepare_ahead, after)

                self._write(prepared, before_commit=prepare_next)
                ran += 1
                if progress:
                    progress(min((batch_no + 1) * self.batch_size, total), total)
        merging = time.perf_counter()
        if self.merges and not self._merge_phase(cancelled):
            return self._stop(started, ran)
        self.counts["merge_ms"] = round((time.perf_counter() - merging) * 1000)
        self._finish()
        return _summary(self.ctx, self.plan_id, started, batches_now=ran, counts=self.counts)

    def _prepare_ahead(self, batch_no: int
                       ) -> tuple[list[PlannedIdentity], _Prepared | None]:
        """Batch ``batch_no`` read and prepared on the second thread; not prepared (None) if it
        needs an organisation the store does not hold yet: the run adds it first."""
        batch = self.planned.slice(batch_no * self.batch_size, self.batch_size)
        if any(p.org_code not in self.orgs for p in batch):
            return batch, None
        return batch, self._prepare(batch_no, batch)

    def _add_organisations(self, codes: set[str]) -> None:
        """The organisations in scope that a batch needs and the store does not hold yet, as
        the policy names them; before the batch, in their own transaction."""
        if not codes:
            return
        from services.orgs import insert_org

        with self.ctx.store.write() as conn:
            for code in sorted(codes):
                scope = self.policy.organisations[code]
                self.orgs[code] = insert_org(self.ctx, conn, self.op, code, scope.name,
                                             scope.type).id
                self.counts["organisations_created"] += 1

    def _stop(self, started: float, ran: int) -> RunSummary:
        with self.ctx.store.write() as conn:
            conn.execute(update(migration_run).where(migration_run.c.plan_id == self.plan_id)
                         .values(status="cancelled", version=migration_run.c.version + 1))
            self.ctx.record(conn, self.op, "migration.run_cancel", "migration_plan",
                            self.plan_id, reason="cancelled by the operator; resumable")
        return _summary(self.ctx, self.plan_id, started, cancelled=True, batches_now=ran,
                        counts=self.counts)

    def _finish(self) -> None:
        now = self.ctx.now()
        with self.ctx.store.write() as conn:
            changed = conn.execute(update(migration_run).where(and_(
                migration_run.c.plan_id == self.plan_id, migration_run.c.status != "done"))
                .values(status="done", finished_at=now, version=migration_run.c.version + 1)
            ).rowcount
            if changed:
                done = {k: v for k, v in self.counts.items() if k not in ("tokens", "merge_ms")}
                self.ctx.record(conn, self.op, "migration.run_done", "migration_plan",
                                self.plan_id, change=Change(after=done))

    # -- one batch --

    def _sql(self, table: str, columns: Sequence[str]) -> str:
        known = metadata.tables[table].c
        assert all(name in known for name in columns)  # identifiers from the schema only
        marks = ",".join([self.qmark] * len(columns))
        return f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})"  # noqa: S608

    def _ids(self, conn: Connection, table: Table, count: int) -> list[int]:
        """``count`` fresh ids for ``table``: past the highest on SQLite (the batch holds the
        write lock), from the table's sequence on PostgreSQL."""
        if count == 0:
            return []
        if self.sqlite:
            top = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
            return list(range(top + 1, top + 1 + count))
        rows = conn.execute(select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))
                            .select_from(func.generate_series(1, count))).all()
        return [int(r[0]) for r in rows]

    def _prepare(self, batch_no: int, batch: list[PlannedIdentity]) -> _Prepared:
        """Everything a batch writes that does not depend on the store's state at commit:
        decisions against what the store held when the run started, new subjects, codes,
        sealed notices, rows. Writes nothing."""
        op, system = self.op, self.policy.system
        first = batch_no * self.batch_size
        out = _Prepared(batch_no=batch_no, first=first, size=len(batch))
        now = self.ctx.now()
        at, expires = self.when(now), now + self.expiry
        out.now = now
        expires_at, enrol_by = self.when(expires), self.when(now + self.mfa_grace)
        expires_text = expires.strftime("%Y-%m-%d %H:%M UTC")
        known, taken = self.known, self.taken
        create: list[PlannedIdentity] = []
        links: list[tuple[PlannedIdentity, str]] = []
        for p in batch:
            owners = {known[lid] for lid, _row in p.legacy if lid in known}
            if not owners:
                if p.login_id in taken:
                    out.skipped += 1  # the plan's default for a login ID held in the store
                else:
                    create.append(p)
            elif len(owners) == 1 and any(lid not in known for lid, _r in p.legacy):
                links.append((p, owners.pop()))  # a new legacy row of a migrated person
            else:
                out.skipped += 1  # already migrated
        out.created, out.linked = len(create), len(links)
        # Written in login ID order, with the (ascending) subjects handed out in that order:
        # the identity table's key and its login ID index then both take the batch as one
        # sweep instead of a page chosen at random per row — what keeps a million-row run from
        # re-reading index pages that no longer fit the cache.
        create.sort(key=_login_of)

        subjects = time_ordered_ids(len(create))
        subject_line = self.template.subject.substitute({})
        notified: set[int] = set()
        # The batch's codes from one read of the system CSPRNG (what secrets.token_urlsafe
        # does per code, one system call each): 256 bits each, URL-safe base64.
        pool = secrets.token_bytes(TOKEN_BYTES * len(create))
        encode, sha256 = base64.urlsafe_b64encode, hashlib.sha256
        for i, p in enumerate(create):
            if p.status != "active" or p.login_id in self.absorbed:
                continue
            subject = subjects[i]
            token = encode(pool[i * TOKEN_BYTES:(i + 1) * TOKEN_BYTES]).rstrip(b"=").decode()
            out.tokens.append((sha256(token.encode()).hexdigest(), subject,
                               "migration", at, expires_at, op.login_id))
            # The template's values, not the rendered text, are sealed (rendered when sent):
            # a sixth of the bytes, and the notices were nearly half of what a run writes.
            sealed = seal_values(self.ctx, NOTICE_KIND, {
                "given_name": p.given_name, "login_id": p.login_id, "token": token,
                "expires_at": expires_text})
            out.notices.append((at, NOTICE_KIND, p.email, subject_line, sealed, subject,
                                "pending", 0, at, 1))
            out.notify_index.append(i)
            notified.add(i)
        if out.tokens:
            # Codes are random, so their hash index takes them in hash order, one sweep (ids
            # are handed out in this order too, see _write).
            ordered = sorted(zip(out.tokens, out.notices, out.notify_index, strict=True),
                             key=_first_of_first)
            out.tokens = [t for t, _n, _i in ordered]
            out.notices = [n for _t, n, _i in ordered]
            out.notify_index = [i for _t, _n, i in ordered]

        orgs, products, sizes = self.orgs, self.products, self.policy.organisations
        status_of = {"active": "reset_required", "disabled": "disabled"}
        for i, p in enumerate(create):
            subject, org_id = subjects[i], orgs[p.org_code]
            status = status_of[p.status]
            out.identities.append((subject, p.login_id, p.email, p.given_name, p.family_name,
                                   org_id, status, "", 1, at, at))
            for prod, role in p.roles:
                out.entitlements.append((subject, products[prod], role, at))
            for lid, row in p.legacy:
                out.legacy.append((system, lid, subject, self.plan_id, row, p.login_id,
                                   p.status, at))
            out.tracking.append((subject, self.plan_id, batch_no, org_id,
                                 sizes[p.org_code].size, "created", p.lso, at, 0, 1))
            if p.lso:
                out.mfa.append((subject, enrol_by, 0, 0, at, 1))
            out.events.append({"action": "migration.identity_create", "target_type": "identity",
                               "target_id": subject, "after": {
                                   "login_id": p.login_id, "organisation": p.org_code,
                                   "status": status, "roles": [f"{a}:{b}" for a, b in p.roles],
                                   "legacy_ids": [lid for lid, _r in p.legacy],
                                   "notified": i in notified, "requires_mfa": p.lso}})
        for p, subject in links:
            for lid, row in p.legacy:
                if lid not in known:
                    out.legacy.append((system, lid, subject, self.plan_id, row, p.login_id,
                                       p.status, at))
            out.events.append({"action": "migration.identity_link", "target_type": "identity",
                               "target_id": subject, "after": {
                                   "legacy_ids": [lid for lid, _r in p.legacy
                                                  if lid not in known]}})
        out.legacy.sort(key=_legacy_key)  # the table's key order: one sweep of its index
        out.events.append({"action": "migration.batch", "target_type": "migration_plan",
                           "target_id": self.plan_id, "after": {
                               "batch": batch_no, "first_identity": first,
                               "identities": len(batch), "created": out.created,
                               "linked": out.linked, "skipped": out.skipped,
                               "notified": len(out.tokens)}})
        return out

    def _write(self, b: _Prepared, before_commit: Callable[[], None] | None = None) -> None:
        """The batch's one transaction, with its ``migration_batch`` row. ``before_commit``
        runs when everything is written and the commit is next."""
        ctx = self.ctx
        with ctx.store.write() as conn:
            # Serialises two runs of one plan (PostgreSQL); a batch committed meanwhile by the
            # other is then seen here and skipped.
            conn.execute(select(migration_run.c.plan_id).where(
                migration_run.c.plan_id == self.plan_id).with_for_update()).one()
            if conn.execute(select(migration_batch.c.batch_no).where(and_(
                    migration_batch.c.plan_id == self.plan_id,
                    migration_batch.c.batch_no == b.batch_no))).first() is not None:
                return
            if self.sqlite:
                # Index pages of the identity, token and audit tables are hit at random (login
                # IDs, hashes): a page cache big enough to hold them keeps each batch from
                # re-reading them. Per connection, bounded (PRAGMA cache_size: KiB if negative).
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            token_ids = self._ids(conn, reset_token, len(b.tokens))
            outbox_ids = self._ids(conn, outbox, len(b.notices))
            token_of = dict(zip(b.notify_index, token_ids, strict=True))
            notice_of = dict(zip(b.notify_index, outbox_ids, strict=True))
            driver = conn.exec_driver_sql
            if b.identities:
                driver(self._sql("identity", (
                    "subject", "login_id", "email", "given_name", "family_name",
                    "organisation_id", "status", "flags", "version", "created_at",
                    "updated_at")), b.identities)
            if b.entitlements:
                driver(self._sql("entitlement", ("subject", "product_id", "role",
                                                 "granted_at")), b.entitlements)
            if b.tokens:
                driver(self._sql("reset_token", (
                    "id", "token_hash", "subject", "purpose", "created_at", "expires_at",
                    "created_by")), [(n, *row) for n, row in zip(token_ids, b.tokens,
                                                                  strict=True)])
                driver(self._sql("outbox", (
                    "id", "created_at", "kind", "to_address", "subject_line", "body_sealed",
                    "identity_subject", "status", "attempts", "next_attempt_at", "version")),
                    [(n, *row) for n, row in zip(outbox_ids, b.notices, strict=True)])
            if b.legacy:
                driver(self._sql("legacy_account", (
                    "system", "legacy_id", "subject", "plan_id", "source_row", "legacy_login",
                    "legacy_status", "migrated_at")), b.legacy)
            if b.tracking:
                driver(self._sql("migration_identity", (
                    "subject", "plan_id", "batch_no", "organisation_id", "size_band",
                    "outcome", "requires_mfa", "migrated_at", "reminders", "version",
                    "reset_token_id", "notice_outbox_id")),
                    [(*row, token_of.get(i), notice_of.get(i))
                     for i, row in enumerate(b.tracking)])
            if b.mfa:
                have = set(_lookup(conn, mfa_account.c.subject, mfa_account.c.subject,
                                   [r[0] for r in b.mfa], None))
                mfa_rows = [r for r in b.mfa if r[0] not in have]
                if mfa_rows:
                    driver(self._sql("mfa_account", ("subject", "enrol_by", "failures",
                                                     "lockouts", "updated_at", "version")),
                           mfa_rows)
            appended = ctx.audit.append_many(conn, b.events, at=b.now, actor=self.op.login_id,
                                             correlation_id=str(uuid.uuid4()))
            conn.execute(insert(migration_batch).values(
                plan_id=self.plan_id, batch_no=b.batch_no, first_identity=b.first,
                identities=b.size, created=b.created, linked=b.linked, merged=0,
                skipped=b.skipped, started_at=b.now, finished_at=ctx.now(),
                audit_event_id=appended[-1][1]))
            if before_commit is not None:
                before_commit()
        self.counts["created"] += b.created
        self.counts["linked"] += b.linked
        self.counts["skipped"] += b.skipped
        self.counts["tokens"] += len(b.tokens)
        self.counts["notices"] += len(b.notices)

    # -- confirmed merges --

    def _merge_phase(self, cancelled: Cancelled | None) -> bool:
        """Apply the confirmed merges, a few per transaction. A merge whose accounts are
        already one (an earlier, interrupted run applied it) is skipped. Returns False if
        cancelled first."""
        pending = list(self.merges)
        while pending:
            if cancelled and cancelled():
                return False
            chunk, pending = pending[:MERGES_PER_TRANSACTION], pending[MERGES_PER_TRANSACTION:]
            with self.ctx.store.write() as conn:
                for survivor, others in chunk:
                    self._merge_one(conn, survivor, others)
        return True

    def _merge_one(self, conn: Connection, survivor: str, others: list[str]) -> None:
        from services.merge.apply import apply_merge
        from services.merge.plan import build_plan, check_mergeable, find_account, snapshot

        now = self.ctx.now()
        rows = {r.login_id: r for r in conn.execute(
            select(identity.c.subject, identity.c.login_id, identity.c.status,
                   identity.c.merged_into).where(and_(
                identity.c.login_id.in_([survivor, *others]), identity.c.status != "deleted")))}
        head = rows.get(survivor)
        mine = set(_lookup(conn, migration_identity.c.subject, migration_identity.c.subject,
                           [r.subject for r in rows.values()],
                           migration_identity.c.plan_id == self.plan_id))
        todo = [k for k in others if k in rows and rows[k].subject in mine
                and not (rows[k].status == "merged" and head is not None
                         and rows[k].merged_into == head.subject)]
        if not todo:
            self.counts["merges_skipped"] += 1
            return
        if head is None or head.subject not in mine:
            self._notify_unmerged(conn, [rows[k].subject for k in todo])
            self.counts["merges_refused"] += 1
            return
        try:
            with conn.begin_nested():
                snaps = []
                for subject in [head.subject, *(rows[k].subject for k in todo)]:
                    snap, merged_into = snapshot(conn, find_account(conn, subject), now)
                    check_mergeable(snap, merged_into)
                    snaps.append(snap)
                plan = build_plan(snaps[0], snaps[1:], organisation=snaps[0].org_code,
                                  keep_roles=(), policy=self.merge_policy,
                                  planned_at=now, planned_by=self.op.login_id)
                apply_merge(self.ctx, conn, self.op, plan,
                            reason=f"confirmed in migration plan {self.plan_id}")
        except GatehouseError:
            # Exclusive roles or a status the engine will not merge: the accounts stay apart,
            # and the one that was waiting for the merge gets its own reset code now.
            self._notify_unmerged(conn, [rows[k].subject for k in todo])
            self.counts["merges_refused"] += 1
            return
        self.counts["merged"] += 1

    def _notify_unmerged(self, conn: Connection, subjects: list[str]) -> None:
        from services.reset import issue_reset

        for subject in subjects:
            row = conn.execute(select(identity.c.status, migration_identity.c.reset_token_id)
                               .join(migration_identity,
                                     migration_identity.c.subject == identity.c.subject)
                               .where(identity.c.subject == subject)).one_or_none()
            if row is None or row.status != "reset_required" or row.reset_token_id is not None:
                continue
            issue_reset(self.ctx, conn, self.op, subject, "migration")
            token_id, outbox_id = _latest_ids(conn, subject)
            conn.execute(update(migration_identity).where(
                migration_identity.c.subject == subject).values(
                reset_token_id=token_id, notice_outbox_id=outbox_id,
                version=migration_identity.c.version + 1))
            self.counts["tokens"] += 1
            self.counts["notices"] += 1


def _login_of(planned: PlannedIdentity) -> str:
    return planned.login_id


def _legacy_key(row: tuple[Any, ...]) -> tuple[str, str]:
    return row[0], row[1]  # (system, legacy id): legacy_account's primary key


def _first_of_first(item: tuple[tuple[Any, ...], Any, int]) -> Any:
    return item[0][0]


def _latest_ids(conn: Connection, subject: str) -> tuple[int, int]:
    token_id = conn.execute(select(func.max(reset_token.c.id)).where(
        reset_token.c.subject == subject)).scalar_one()
    outbox_id = conn.execute(select(func.max(outbox.c.id)).where(
        outbox.c.identity_subject == subject)).scalar_one()
    return int(token_id), int(outbox_id)


def _lookup(conn: Connection, key: Any, value: Any, wanted: list[str], where: Any
            ) -> dict[str, str]:
    """``{key: value}`` for the rows whose ``key`` is in ``wanted``, in chunks."""
    found: dict[str, str] = {}
    table = key.table
    for start in range(0, len(wanted), _CHUNK):
        query = select(key, value).select_from(table).where(
            key.in_(wanted[start:start + _CHUNK]))
        if where is not None:
            query = query.where(where)
        found.update({str(k): str(v) for k, v in conn.execute(query)})
    return found


