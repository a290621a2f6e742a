"""Delete (restorable), restore intact, and reuse of a deleted login ID after the cooling-off:
a new subject id that inherits nothing, the previous holder shown first, and two admins
claiming at once — exactly one wins (the database's partial unique index, both backends)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from services.audit import Change
from services.authz import SYSTEM, Operator
from services.clock import ManualClock
from services.context import Context, open_context
from services.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from services.identity_lifecycle import (
    claim_login_id,
    delete_identity,
    preview_claim,
    restore_identity,
)
from services.password_hash import hash_password
from services.reset import issue_reset
from services.store.schema import (
    entitlement,
    id_tombstone,
    identity,
    password_history,
    reset_token,
    terms_acceptance,
)
from services.users import add_identity, disable_identity, get_identity, list_identities

EMAIL = "alex.morgan@shipper-a.example"


@pytest.fixture
def admin(make_person: Callable[..., Operator]) -> Operator:
    return make_person("platform_admin")


def _alex(ctx: Context) -> str:
    detail = add_identity(ctx, SYSTEM, EMAIL, "Alex", "Morgan", "XOS",
                          ["DES:viewer", "UKLINK:submitter"],
                          password_hash=hash_password("a long and private passphrase"))
    with ctx.store.write() as conn:
        conn.execute(insert(password_history).values(
            subject=detail.subject, password_hash=hash_password("an older passphrase here"),
            created_at=ctx.now()))
        conn.execute(insert(terms_acceptance).values(subject=detail.subject,
                                                     terms_version="t1", accepted_at=ctx.now()))
        issue_reset(ctx, conn, SYSTEM, detail.subject, "admin")
    return detail.subject


def test_delete_keeps_the_identity_and_restore_gives_it_back_intact(
        ctx: Context, admin: Operator) -> None:
    subject = _alex(ctx)
    disable_identity(ctx, admin, EMAIL, reason="on leave")
    before = get_identity(ctx, admin, EMAIL)

    deleted = delete_identity(ctx, admin, EMAIL, reason="left the company")
    assert deleted.status == "deleted" and deleted.subject == subject
    assert [r.login_id for r in list_identities(ctx, admin)].count(EMAIL) == 0
    with pytest.raises(NotFound):
        get_identity(ctx, admin, EMAIL)
    with ctx.store.read() as conn:  # the reset code sent earlier no longer works
        assert conn.execute(select(reset_token.c.revoked_at)).scalar_one() is not None

    restored = restore_identity(ctx, admin, EMAIL, reason="deleted by mistake")
    assert restored.subject == subject
    assert restored.status == "disabled"  # as it was, not "active"
    assert restored.entitlements == before.entitlements
    assert restored.has_password
    with ctx.store.read() as conn:
        assert conn.execute(select(id_tombstone.c.closed_at)).scalar_one() is not None


def test_delete_needs_a_reason_and_is_not_for_oneself(ctx: Context, admin: Operator) -> None:
    _alex(ctx)
    with pytest.raises(InvalidInput, match="reason"):
        delete_identity(ctx, admin, EMAIL, reason="  ")
    with pytest.raises(InvalidInput, match="your own"):
        delete_identity(ctx, admin, admin.login_id, reason="testing")


def test_an_lso_deletes_only_in_their_own_organisation(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    _alex(ctx)
    other_lso = make_person("lso", org="SHA")
    with pytest.raises(PermissionDenied):
        delete_identity(ctx, other_lso, EMAIL, reason="not mine")
    own_lso = make_person("lso", org="XOS")
    assert delete_identity(ctx, own_lso, EMAIL, reason="left").status == "deleted"


def test_the_login_id_cools_off_then_a_claim_inherits_nothing(
        ctx: Context, admin: Operator, clock: ManualClock) -> None:
    old_subject = _alex(ctx)
    delete_identity(ctx, admin, EMAIL, reason="left the company")

    # Within the cooling-off: no claim, no plain add; restore is the way back.
    preview = preview_claim(ctx, admin, EMAIL)
    assert not preview.claimable and preview.reusable_after is not None
    with pytest.raises(InvalidInput, match="cooling off"):
        claim_login_id(ctx, admin, EMAIL, "Alex", "Morgan", "XOS", acknowledged=True)
    with pytest.raises(InvalidInput, match="cannot be given to anyone else until"):
        add_identity(ctx, admin, EMAIL, "Alex", "Morgan", "XOS")

    clock.advance(timedelta(days=30, seconds=1))
    preview = preview_claim(ctx, admin, EMAIL)
    assert preview.claimable
    assert [h.subject for h in preview.previous] == [old_subject]
    assert old_subject in preview.warning()
    with pytest.raises(InvalidInput, match="previously held"):  # not shown → not confirmed
        claim_login_id(ctx, admin, EMAIL, "Alex", "Morgan", "XOS", acknowledged=False)
    with pytest.raises(InvalidInput, match="identity claim"):  # a plain add is steered to it
        add_identity(ctx, admin, EMAIL, "Alex", "Morgan", "XOS")

    new = claim_login_id(ctx, admin, EMAIL, "Alex", "Morgan", "XOS", acknowledged=True)
    assert new.subject != old_subject
    assert new.status == "reset_required" and not new.has_password
    assert new.entitlements == ()
    with ctx.store.read() as conn:
        for table in (entitlement, password_history, terms_acceptance, reset_token):
            count = conn.execute(select(func.count()).select_from(table)
                                 .where(table.c.subject == new.subject)).scalar_one()
            assert count == 0, table.name
    # The old identity can no longer come back under the ID.
    with pytest.raises(InvalidInput, match="no longer be restored"):
        restore_identity(ctx, admin, old_subject)


def test_claiming_a_never_held_or_live_id_is_refused(ctx: Context, admin: Operator) -> None:
    _alex(ctx)
    with pytest.raises(AlreadyExists):
        claim_login_id(ctx, admin, EMAIL, "Alex", "Morgan", "XOS", acknowledged=True)
    with pytest.raises(InvalidInput, match="never been held"):
        claim_login_id(ctx, admin, "new.person@shipper-a.example", "New", "Person", "XOS",
                       acknowledged=True)


def test_two_admins_claiming_at_once_exactly_one_wins(
        ctx: Context, db_url: str, admin: Operator, clock: ManualClock) -> None:
    _alex(ctx)
    delete_identity(ctx, admin, EMAIL, reason="left")
    clock.advance(timedelta(days=31))
    results: list[str] = []
    barrier = threading.Barrier(2)

    def claim(given: str) -> None:
        other = open_context(db_url, clock=clock, create=False)
        try:
            barrier.wait()
            claim_login_id(other, admin, EMAIL, given, "Morgan", "XOS", acknowledged=True)
            results.append("won")
        except AlreadyExists:
            results.append("lost")
        finally:
            other.close()

    threads = [threading.Thread(target=claim, args=(g,)) for g in ("Alex", "Alexandra")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost", "won"]
    with ctx.store.read() as conn:
        live = conn.execute(select(func.count()).select_from(identity).where(
            identity.c.login_id == EMAIL, identity.c.status != "deleted")).scalar_one()
    assert live == 1


def test_restore_is_refused_when_someone_else_holds_the_id(
        ctx: Context, admin: Operator, clock: ManualClock) -> None:
    old = _alex(ctx)
    delete_identity(ctx, admin, EMAIL, reason="left")
    clock.advance(timedelta(days=31))
    claim_login_id(ctx, admin, EMAIL, "Alex", "Morgan", "XOS", acknowledged=True)
    with pytest.raises(InvalidInput):
        restore_identity(ctx, admin, old)
    with ctx.store.write() as conn:  # the audit trail has each step
        ctx.record(conn, admin, "test.marker", "identity", old, change=Change(after={}))
