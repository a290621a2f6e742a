"""Role × operation: every service function checks the acting operator itself (DESIGN.md,
Security model). platform_admin may do everything; an LSO administers identities of their own
organisation only (no tool roles, no organisations, no audit); a security reviewer only reads
(audit export included); a user only reads themself. A refused call changes nothing."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from services.audit_export import export_audit
from services.auth import unlock_signin
from services.authz import SYSTEM, Operator, Role
from services.context import Context
from services.demo import seed
from services.errors import NotFound, PermissionDenied
from services.orgs import add_org, list_orgs
from services.store.schema import audit_head, identity, metadata
from services.users import (
    IdentityDetail,
    add_identity,
    count_identities,
    disable_identity,
    get_identity,
    list_identities,
    rename_identity,
)

ROLES = ("platform_admin", "lso", "security_reviewer", "user")


@dataclass
class World:
    ctx: Context
    operators: dict[str, Operator]
    own: IdentityDetail  # in the LSO's organisation (NWGS)
    other: IdentityDetail  # in another organisation (BRWS)
    made: int = 0

    def fresh(self, where: str) -> IdentityDetail:
        """A new target for an allowed call, so that no allowed change (a rename, a disable)
        alters what a later call meets. Refused calls share ``own``/``other``: they change
        nothing, which is what the test checks."""
        self.made += 1
        org, domain = {"own": ("NWGS", "northwind.example"),
                       "other": ("BRWS", "brightwater.example")}[where]
        return add_identity(self.ctx, SYSTEM, f"{where}.{self.made}@{domain}", "Fresh",
                            "Target", org, ["DES:viewer"])


@pytest.fixture
def world(ctx: Context, make_person: Callable[..., Operator]) -> World:
    operators = {
        "platform_admin": make_person("platform_admin"),
        "lso": make_person("lso", org="NWGS"),
        "security_reviewer": make_person("security_reviewer"),
        "user": make_person(org="NWGS"),
    }
    add_org(ctx, SYSTEM, "BRWS", "Brightwater Energy Supply", "supplier")
    own = add_identity(ctx, SYSTEM, "own.target@northwind.example", "Own", "Target", "NWGS",
                       ["DES:viewer"])
    other = add_identity(ctx, SYSTEM, "other.target@brightwater.example", "Other", "Target",
                         "BRWS", ["DES:viewer"])
    return World(ctx, operators, own, other)


# A call gets (ctx, operator, its target or None, a number unique to the call).
Call = Callable[[Context, Operator, Any, int], Any]

# (what, target kind, the call, the roles allowed): the whole matrix in one table.
MATRIX: list[tuple[str, str | None, Call, set[str]]] = [
    ("create identity in own org", None,
     lambda c, o, t, n: add_identity(c, o, f"new.{n}@northwind.example", "New", "Person",
                                     "NWGS", ["DES:viewer"]),
     {"platform_admin", "lso"}),
    ("create identity in other org", None,
     lambda c, o, t, n: add_identity(c, o, f"new.{n}@brightwater.example", "New", "Person",
                                     "BRWS", ["DES:viewer"]),
     {"platform_admin"}),
    ("grant a tool role (GATEHOUSE:lso) in own org", None,
     lambda c, o, t, n: add_identity(c, o, f"lso.{n}@northwind.example", "New", "Officer",
                                     "NWGS", ["GATEHOUSE:lso"]),
     {"platform_admin"}),
    ("grant GATEHOUSE:platform_admin beside a product role", None,
     lambda c, o, t, n: add_identity(c, o, f"admin.{n}@northwind.example", "New", "Admin",
                                     "NWGS", ["DES:viewer", "GATEHOUSE:platform_admin"]),
     {"platform_admin"}),
    ("rename own-org identity", "own",
     lambda c, o, t, n: rename_identity(c, o, t.login_id, t.version, "Renamed", "Target"),
     {"platform_admin", "lso"}),
    ("rename other-org identity by login ID", "other",
     lambda c, o, t, n: rename_identity(c, o, t.login_id, t.version, "Renamed", "Target"),
     {"platform_admin"}),
    ("rename other-org identity by subject id", "other",
     lambda c, o, t, n: rename_identity(c, o, t.subject, t.version, "Renamed", "Target"),
     {"platform_admin"}),
    ("disable own-org identity", "own",
     lambda c, o, t, n: disable_identity(c, o, t.login_id, reason="left"),
     {"platform_admin", "lso"}),
    ("disable other-org identity by login ID", "other",
     lambda c, o, t, n: disable_identity(c, o, t.login_id, reason="left"),
     {"platform_admin"}),
    ("disable other-org identity by subject id", "other",
     lambda c, o, t, n: disable_identity(c, o, t.subject, reason="left"),
     {"platform_admin"}),
    ("add an organisation", None,
     lambda c, o, t, n: add_org(c, o, f"ORG{n}", "New Organisation", "gt"),
     {"platform_admin"}),
    ("seed demo data", None,
     lambda c, o, t, n: seed(c, o, users=2, seed=n),
     {"platform_admin"}),
    ("unlock sign-in of an own-org login ID", "own",
     lambda c, o, t, n: unlock_signin(c, o, t.login_id),
     {"platform_admin"}),
    ("export the audit trail", None,
     lambda c, o, t, n: export_audit(c, o, "jsonl", io.StringIO()),
     {"platform_admin", "security_reviewer"}),
    ("read own-org identity", "own",
     lambda c, o, t, n: get_identity(c, o, t.login_id),
     {"platform_admin", "lso", "security_reviewer"}),
    ("read other-org identity by login ID", "other",
     lambda c, o, t, n: get_identity(c, o, t.login_id),
     {"platform_admin", "security_reviewer"}),
    ("read other-org identity by subject id", "other",
     lambda c, o, t, n: get_identity(c, o, t.subject),
     {"platform_admin", "security_reviewer"}),
]
READS = {"read own-org identity", "read other-org identity by login ID",
         "read other-org identity by subject id"}


def snapshot(ctx: Context) -> dict[str, Any]:
    """Row counts of every table, every identity row and the audit head."""
    with ctx.store.read() as conn:
        state: dict[str, Any] = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }
        state["identities"] = [tuple(r) for r in conn.execute(
            select(identity).order_by(identity.c.subject))]
        state["audit_head"] = tuple(conn.execute(select(audit_head)).one())
    return state


def test_role_operation_matrix(ctx: Context, world: World, subtests: pytest.Subtests) -> None:
    """One store per backend; each (operation, role) is its own subtest. Refused roles go
    first and must find the store exactly as it was; allowed ones act on fresh targets."""
    calls = 0
    for what, kind, call, allowed in MATRIX:
        for role in sorted(ROLES, key=lambda r: r in allowed):
            with subtests.test(operation=what, role=role):
                calls += 1
                if kind is None:
                    target = None
                elif role in allowed and what not in READS:
                    target = world.fresh(kind)
                else:
                    target = world.own if kind == "own" else world.other
                before = snapshot(ctx)
                if role in allowed:
                    call(ctx, world.operators[role], target, calls)
                    after = snapshot(ctx)
                    if what in READS:
                        assert after == before  # reading changes nothing
                    else:
                        assert after["audit_event"] > before["audit_event"]  # and is audited
                elif what in READS:
                    # Refused reads look like a missing identity: nobody learns who exists
                    # in an organisation they may not see.
                    with pytest.raises(NotFound) as hidden:
                        call(ctx, world.operators[role], target, calls)
                    assert "No identity has the login ID" in str(hidden.value)
                    assert snapshot(ctx) == before
                else:
                    with pytest.raises(PermissionDenied) as refused:
                        call(ctx, world.operators[role], target, calls)
                    assert "ask a platform admin" in str(refused.value)
                    assert snapshot(ctx) == before
    assert calls == len(MATRIX) * len(ROLES)


def test_the_matrix_covers_every_role_the_tool_knows() -> None:
    assert set(ROLES) == {r.value for r in Role}


# ---- read scope ----------------------------------------------------------------------------


def logins(rows: list[Any]) -> set[str]:
    return {r.login_id for r in rows}


def test_lists_and_counts_are_scoped_to_what_each_role_may_read(ctx: Context,
                                                                world: World) -> None:
    all_rows = list_identities(ctx, SYSTEM)
    everyone = logins(all_rows)
    assert len(everyone) == 4 + 2
    ops = world.operators
    nwgs = {r.login_id for r in all_rows if r.org_code == "NWGS"}
    brws = {r.login_id for r in all_rows if r.org_code == "BRWS"}
    assert {world.own.login_id, ops["lso"].login_id, ops["user"].login_id} <= nwgs
    assert world.other.login_id in brws

    expected = {
        "platform_admin": everyone,
        "security_reviewer": everyone,
        "lso": nwgs,
        "user": {ops["user"].login_id},
    }
    for role, visible in expected.items():
        op = ops[role]
        assert logins(list_identities(ctx, op)) == visible, role
        assert count_identities(ctx, op) == len(visible), role
        # Searching for the other organisation's identities finds nothing outside the scope.
        assert logins(list_identities(ctx, op, search="other target")) == brws & visible, role
        assert count_identities(ctx, op, search="brws") == len(brws & visible), role
        assert logins(list_identities(ctx, op, include_deleted=True)) == visible, role
        assert logins(list_identities(ctx, op, limit=100, offset=0, order_by="organisation",
                                      descending=True)) == visible, role


def test_a_user_reads_only_themself(ctx: Context, world: World) -> None:
    user = world.operators["user"]
    assert get_identity(ctx, user, user.login_id).subject == user.subject
    assert get_identity(ctx, user, user.subject).subject == user.subject
    for someone in (world.own, world.other, world.operators["lso"]):
        with pytest.raises(NotFound):  # the same answer as for nobody at all
            get_identity(ctx, user, someone.login_id)


def test_an_lso_sees_only_their_own_organisation(ctx: Context, world: World) -> None:
    lso = world.operators["lso"]
    assert [o.code for o in list_orgs(ctx, lso)] == ["NWGS"]
    assert {o.code for o in list_orgs(ctx, world.operators["security_reviewer"])} == {
        "XOS", "NWGS", "BRWS"}


def test_an_lso_cannot_reach_another_organisation_through_any_identity_function(
        ctx: Context, world: World) -> None:
    lso, other = world.operators["lso"], world.other
    before = snapshot(ctx)
    for key in (other.login_id, other.subject, other.login_id.upper()):
        with pytest.raises(NotFound):  # indistinguishable from an address nobody holds
            get_identity(ctx, lso, key)
    attempts: list[Callable[[], Any]] = [
        lambda: rename_identity(ctx, lso, other.login_id, other.version, "X", "Y"),
        lambda: rename_identity(ctx, lso, other.subject, other.version, "X", "Y"),
        lambda: disable_identity(ctx, lso, other.login_id),
        lambda: disable_identity(ctx, lso, other.subject, expected_version=other.version),
        lambda: add_identity(ctx, lso, "someone@brightwater.example", "Some", "One", "BRWS"),
        lambda: add_identity(ctx, lso, "someone@brightwater.example", "Some", "One", "brws"),
        lambda: unlock_signin(ctx, lso, other.login_id),
        lambda: export_audit(ctx, lso, "csv", io.StringIO()),
        lambda: add_org(ctx, lso, "NEWO", "New Organisation", "shipper"),
        lambda: seed(ctx, lso, users=1),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert other.login_id not in logins(list_identities(ctx, lso, search=other.login_id))
    assert snapshot(ctx) == before


def test_an_lso_cannot_change_a_more_privileged_colleague(ctx: Context, make_person) -> None:
    """An LSO administers their organisation's people, not its platform admins or reviewers."""
    from services.reset import force_reset

    lso = make_person("lso", org="XOS")
    for role in ("platform_admin", "security_reviewer"):
        colleague = make_person(role, org="XOS")
        detail = get_identity(ctx, SYSTEM, colleague.login_id)
        before = snapshot(ctx)
        with pytest.raises(PermissionDenied, match="Only a platform admin"):
            rename_identity(ctx, lso, detail.login_id, detail.version, "Re", "Named")
        with pytest.raises(PermissionDenied, match="Only a platform admin"):
            disable_identity(ctx, lso, detail.login_id)
        with pytest.raises(PermissionDenied, match="Only a platform admin"):
            force_reset(ctx, lso, detail.login_id)
        assert snapshot(ctx) == before
