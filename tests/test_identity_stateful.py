"""Acceptance 1 of the single-identity issue: random sequences of create, merge, unmerge,
delete, restore, claim and profile edits, with the invariants checked after every step —

- one non-deleted identity per login ID;
- subject ids never reissued;
- merged entitlements equal the union of the sources;
- unmerge restores the exact prior state;
- a reused ID carries nothing of its previous holder;
- the audit chain verifies.

Every step either succeeds or is refused with one of the product's own errors (a sentence for a
person); anything else — an IntegrityError, a KeyError — fails the test. Runs on SQLite and on
PostgreSQL, each example in a store of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from services.authz import SYSTEM
from services.clock import ManualClock
from services.context import Context, open_context
from services.errors import GatehouseError
from services.identity_lifecycle import claim_login_id, delete_identity, restore_identity
from services.merge import UnmergeRefused, merge, plan_merge, unmerge
from services.orgs import add_org
from services.profile import update_profile
from services.setup import ensure_company
from services.store.schema import (
    entitlement,
    identity,
    password_history,
    product,
    reset_token,
    terms_acceptance,
)
from services.users import add_identity
from tests.conftest import backend_of

# A small pool, so that sequences collide: the same people, IDs and roles again and again.
LOGINS = ("alex.morgan", "alex.morgan1", "sam.taylor", "sam.taylor2")
ROLES = ("DES:viewer", "DES:standard", "UKLINK:viewer", "UKLINK:submitter", "APIDEV:developer")


@dataclass(frozen=True)
class Row:
    login_id: str
    status: str
    merged_into: str | None
    org_id: int
    roles: frozenset[str]


def snapshot(ctx: Context) -> dict[str, Row]:
    with ctx.store.read() as conn:
        ents: dict[str, set[str]] = {}
        for subject, code, role in conn.execute(
                select(entitlement.c.subject, product.c.code, entitlement.c.role)
                .join(product)):
            ents.setdefault(subject, set()).add(f"{code}:{role}")
        return {r.subject: Row(r.login_id, r.status, r.merged_into, r.organisation_id,
                               frozenset(ents.get(r.subject, ())))
                for r in conn.execute(select(identity))}


class IdentityMachine(RuleBasedStateMachine):
    url_factory: Callable[[], str]
    seen: ClassVar[Counter[str]] = Counter()  # over all examples: proof rare paths ran

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.ctx = open_context(self.url_factory(), clock=self.clock)
        ensure_company(self.ctx)
        add_org(self.ctx, SYSTEM, "SHA", "Shipper A", "shipper")
        self.issued: set[str] = set()  # every subject id ever handed out
        # survivor, absorbed, the merge's event id, the state before it
        self.merges: list[tuple[str, tuple[str, ...], str, dict[str, Row]]] = []

    def teardown(self) -> None:
        self.ctx.close()

    @initialize()
    def seed_people(self) -> None:
        for login in LOGINS[:3]:
            self._created(add_identity(self.ctx, SYSTEM, f"{login}@shipper.example",
                                       "Alex", "Morgan", "XOS", ["DES:viewer"]).subject)

    def _created(self, subject: str) -> None:
        assert subject not in self.issued, "a subject id was issued twice"
        self.issued.add(subject)

    def _subjects(self, *statuses: str) -> list[str]:
        return sorted(s for s, r in snapshot(self.ctx).items() if r.status in statuses)

    # ---- rules ------------------------------------------------------------------------------

    @rule(login=st.sampled_from(LOGINS), org=st.sampled_from(("XOS", "SHA")),
          roles=st.sets(st.sampled_from(ROLES), max_size=3))
    def create(self, login: str, org: str, roles: set[str]) -> None:
        try:
            detail = add_identity(self.ctx, SYSTEM, f"{login}@shipper.example", "Alex",
                                  "Morgan", org, sorted(roles))
        except GatehouseError:
            return  # held, or cooling off: refused with a sentence
        self._created(detail.subject)
        assert {f"{p}:{r}" for p, r in detail.entitlements} == roles

    @precondition(lambda self: len(self._subjects("active", "reset_required", "disabled")) >= 2)
    @rule(data=st.data())
    def merge_accounts(self, data: st.DataObject) -> None:
        live = self._subjects("active", "reset_required", "disabled")
        survivor = data.draw(st.sampled_from(live))
        others = data.draw(st.lists(st.sampled_from([s for s in live if s != survivor]),
                                    min_size=1, max_size=2, unique=True))
        before = snapshot(self.ctx)
        org = data.draw(st.sampled_from(("XOS", "SHA")))
        try:
            plan = plan_merge(self.ctx, SYSTEM, survivor, others, organisation=org
                              if len({before[s].org_id for s in [survivor, *others]}) > 1
                              else None)
        except GatehouseError:
            return
        if not plan.can_apply:
            return
        result = merge(self.ctx, SYSTEM, plan)
        self.seen["merged"] += 1
        after = snapshot(self.ctx)
        union = frozenset().union(*(before[s].roles for s in [survivor, *others]))
        assert after[survivor].roles == union
        for other in others:
            assert after[other].status == "merged" and after[other].merged_into == survivor
            assert after[other].roles == frozenset()
        self.merges.append((survivor, tuple(others), result.event_id, before))

    @precondition(lambda self: bool(self.merges))
    @rule(data=st.data())
    def unmerge_one(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(self.merges) - 1))
        survivor, others, event_id, before = self.merges[index]
        try:
            unmerge(self.ctx, SYSTEM, survivor, event_id)
        except (UnmergeRefused, GatehouseError):
            return  # changed since in a way that cannot be undone exactly: said so
        self.seen["unmerged"] += 1
        del self.merges[index]
        after = snapshot(self.ctx)
        for subject in (survivor, *others):
            # Names and versions move on; who holds what, and in which state, is as before.
            then, now = before[subject], after[subject]
            assert (now.login_id, now.status, now.merged_into, now.org_id, now.roles) == (
                then.login_id, then.status, then.merged_into, then.org_id, then.roles), subject

    @precondition(lambda self: bool(self._subjects("active", "reset_required", "disabled")))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        subject = data.draw(st.sampled_from(self._subjects("active", "reset_required",
                                                            "disabled")))
        try:
            delete_identity(self.ctx, SYSTEM, subject, reason="left")
        except GatehouseError:
            return

    @precondition(lambda self: bool(self._subjects("deleted")))
    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        subject = data.draw(st.sampled_from(self._subjects("deleted")))
        try:
            restore_identity(self.ctx, SYSTEM, subject)
        except GatehouseError:
            return
        self.seen["restored"] += 1

    @rule()
    def time_passes(self) -> None:
        self.clock.advance(timedelta(days=31))

    @precondition(lambda self: bool(self._subjects("deleted")))
    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        rows = snapshot(self.ctx)
        login = data.draw(st.sampled_from(sorted(
            rows[s].login_id for s in self._subjects("deleted")))).partition("@")[0]
        try:
            detail = claim_login_id(self.ctx, SYSTEM, f"{login}@shipper.example", "Jo",
                                    "Bloggs", "SHA", acknowledged=True)
        except GatehouseError:
            return
        self.seen["claimed"] += 1
        self._created(detail.subject)
        assert detail.entitlements == () and not detail.has_password
        assert detail.status == "reset_required"
        with self.ctx.store.read() as conn:
            for table in (entitlement, password_history, reset_token, terms_acceptance):
                assert conn.execute(select(func.count()).select_from(table).where(
                    table.c.subject == detail.subject)).scalar_one() == 0, table.name

    @precondition(lambda self: bool(self._subjects("active", "reset_required", "disabled")))
    @rule(data=st.data(), title=st.sampled_from(("Analyst", "Manager", "")))
    def edit_profile(self, data: st.DataObject, title: str) -> None:
        subject = data.draw(st.sampled_from(self._subjects("active", "reset_required",
                                                            "disabled")))
        detail = update_profile(self.ctx, SYSTEM, subject, {"job_title": title})
        assert detail.job_title == (title or None)

    # ---- invariants -------------------------------------------------------------------------

    @invariant()
    def one_live_identity_per_login_id(self) -> None:
        rows = snapshot(self.ctx).values()
        live = [r.login_id for r in rows if r.status != "deleted"]
        assert len(live) == len(set(live))

    @invariant()
    def subjects_are_never_reissued(self) -> None:
        assert set(snapshot(self.ctx)) == self.issued

    @invariant()
    def aliases_hold_no_roles_and_point_at_a_live_identity(self) -> None:
        rows = snapshot(self.ctx)
        for row in rows.values():
            if row.status == "merged":
                assert row.roles == frozenset()
                assert row.merged_into in rows

    @invariant()
    def the_audit_chain_verifies(self) -> None:
        with self.ctx.store.read() as conn:
            assert self.ctx.audit.verify(conn).ok


def test_random_identity_histories_keep_every_invariant(
        db_url: str, another_store_url: Callable[[], str]) -> None:
    IdentityMachine.url_factory = staticmethod(another_store_url)  # type: ignore[assignment]
    examples = 25 if backend_of(db_url) == "sqlite" else 12
    IdentityMachine.seen.clear()
    run_state_machine_as_test(IdentityMachine, settings=settings(
        max_examples=examples, stateful_step_count=25, deadline=None,
        suppress_health_check=list(HealthCheck),
        # Shrinking a long history of store calls can run for minutes; the failing sequence
        # as found is printed in full, and a fixed seed makes the runs repeatable.
        phases=[Phase.explicit, Phase.reuse, Phase.generate], derandomize=True))
    seen = IdentityMachine.seen
    assert min(seen["merged"], seen["unmerged"], seen["claimed"], seen["restored"]) > 0, seen

