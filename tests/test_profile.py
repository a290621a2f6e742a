"""Profile details: who may edit which field (policy), stale edits refused, every change
audited with before and after; a change of e-mail confirmed with a code sent to the new
address, keeping the subject id and tombstoning the old login ID."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.authz import SYSTEM, Operator
from services.clock import ManualClock
from services.context import Context
from services.errors import AlreadyExists, Conflict, InvalidInput, PermissionDenied
from services.identity_lifecycle import preview_claim
from services.profile import confirm_email_change, request_email_change, update_profile
from services.store.schema import audit_event, id_tombstone, outbox
from services.users import add_identity, get_identity


@pytest.fixture
def alex(ctx: Context, make_person: Callable[..., Operator]) -> Operator:
    from services.auth import operator_for

    make_person("platform_admin")  # the store's organisations and products
    detail = add_identity(ctx, SYSTEM, "alex.morgan@xoserve.com", "Alex", "Morgan", "XOS")
    return operator_for(detail)


def _mailed(ctx: Context, address: str, kind: str) -> list[str]:
    with ctx.store.read() as conn:
        rows = conn.execute(select(outbox.c.body_sealed).where(
            outbox.c.to_address == address, outbox.c.kind == kind).order_by(outbox.c.id)).all()
    bodies = [ctx.vault.decrypt(r.body_sealed, "outbox-body").decode() for r in rows]
    return [code for body in bodies for code in dict.fromkeys(re.findall(r"[\w-]{43}", body))]


def test_a_person_corrects_their_own_details_and_each_change_is_audited(
        ctx: Context, alex: Operator) -> None:
    detail = update_profile(ctx, alex, alex.login_id,
                            {"given_name": "  Alexandra ", "phone": "+44 121 623 2000",
                             "job_title": "Data analyst"})
    assert (detail.given_name, detail.phone, detail.job_title) == (
        "Alexandra", "+44 121 623 2000", "Data analyst")
    with ctx.store.read() as conn:
        event = conn.execute(select(audit_event).where(audit_event.c.action == "profile.update")
                             ).one()
    assert json.loads(event.before)["given_name"] == "Alex"
    assert json.loads(event.after) == {"given_name": "Alexandra", "phone": "+44 121 623 2000",
                                       "job_title": "Data analyst"}
    cleared = update_profile(ctx, alex, alex.login_id, {"phone": ""})
    assert cleared.phone is None


def test_fields_outside_the_policy_and_bad_values_are_refused(
        ctx: Context, alex: Operator, make_person: Callable[..., Operator]) -> None:
    with pytest.raises(PermissionDenied):  # self may not change their own login ID
        request_email_change(ctx, alex, alex.login_id, "alex@elsewhere.example")
    with pytest.raises(InvalidInput, match="phone number"):
        update_profile(ctx, alex, alex.login_id, {"phone": "call me"})
    with pytest.raises(InvalidInput, match="login ID"):
        update_profile(ctx, alex, alex.login_id, {"email": "x@y.example"})
    someone = make_person(org="XOS")
    with pytest.raises(PermissionDenied):
        update_profile(ctx, someone, alex.login_id, {"given_name": "Mallory"})
    assert get_identity(ctx, SYSTEM, alex.login_id).given_name == "Alex"


def test_an_lso_edits_people_of_their_own_organisation_only(
        ctx: Context, alex: Operator, make_person: Callable[..., Operator]) -> None:
    own = make_person("lso", org="XOS")
    assert update_profile(ctx, own, alex.login_id, {"family_name": "Morgan-Lee"}
                          ).family_name == "Morgan-Lee"
    other = make_person("lso", org="SHA")
    with pytest.raises(PermissionDenied):
        update_profile(ctx, other, alex.login_id, {"family_name": "Other"})
    admin_in_org = make_person("platform_admin", org="XOS")
    with pytest.raises(PermissionDenied):  # never over an admin of their organisation
        update_profile(ctx, own, admin_in_org.login_id, {"given_name": "Eve"})


def test_a_stale_edit_is_refused(ctx: Context, alex: Operator) -> None:
    version = get_identity(ctx, SYSTEM, alex.login_id).version
    update_profile(ctx, alex, alex.login_id, {"job_title": "Analyst"}, expected_version=version)
    with pytest.raises(Conflict):
        update_profile(ctx, alex, alex.login_id, {"job_title": "Manager"},
                       expected_version=version)
    assert get_identity(ctx, SYSTEM, alex.login_id).job_title == "Analyst"


def test_email_change_is_confirmed_by_the_new_address_and_tombstones_the_old_id(
        ctx: Context, alex: Operator, make_person: Callable[..., Operator],
        clock: ManualClock) -> None:
    admin = make_person("platform_admin")
    request, _ = request_email_change(ctx, admin, alex.login_id, "Alex.Morgan@Correla.com")
    assert request.new_login_id == "alex.morgan@correla.com"
    # Nothing changes until the code comes back; the old address is told.
    assert get_identity(ctx, SYSTEM, "alex.morgan@xoserve.com").subject == alex.subject
    assert _mailed(ctx, "alex.morgan@xoserve.com", "email_change") == []
    with ctx.store.read() as conn:
        notices = conn.execute(select(outbox.c.kind).where(
            outbox.c.to_address == "alex.morgan@xoserve.com")).scalars().all()
    assert notices == ["email_change_notice"]
    (code,) = _mailed(ctx, "Alex.Morgan@correla.com", "email_change")  # domain lower-cased

    with pytest.raises(InvalidInput, match="not valid"):
        confirm_email_change(ctx, code[::-1])
    detail = confirm_email_change(ctx, code)
    assert detail.subject == alex.subject
    assert (detail.login_id, detail.email) == ("alex.morgan@correla.com",
                                               "Alex.Morgan@correla.com")
    with pytest.raises(InvalidInput, match="not valid"):  # single use
        confirm_email_change(ctx, code)
    with ctx.store.read() as conn:
        stone = conn.execute(select(id_tombstone)).one()
    assert (stone.login_id, stone.subject, stone.reason) == (
        "alex.morgan@xoserve.com", alex.subject, "email_changed")
    # The old ID is not free for someone else at once, and then shows its previous holder.
    with pytest.raises(InvalidInput, match="cannot be given to anyone else"):
        add_identity(ctx, admin, "alex.morgan@xoserve.com", "Other", "Person", "XOS")
    clock.advance(timedelta(days=31))
    assert [h.subject for h in preview_claim(ctx, admin, "alex.morgan@xoserve.com").previous
            ] == [alex.subject]


def test_email_change_codes_expire_are_replaced_and_check_the_id_is_free(
        ctx: Context, alex: Operator, make_person: Callable[..., Operator],
        clock: ManualClock) -> None:
    admin = make_person("platform_admin")
    taken = make_person(email="taken@xoserve.com")
    with pytest.raises(AlreadyExists):
        request_email_change(ctx, admin, alex.login_id, taken.login_id)
    request_email_change(ctx, admin, alex.login_id, "first@xoserve.com")
    request_email_change(ctx, admin, alex.login_id, "second@xoserve.com")
    (first,) = _mailed(ctx, "first@xoserve.com", "email_change")
    with pytest.raises(InvalidInput, match="replaced"):
        confirm_email_change(ctx, first)
    (second,) = _mailed(ctx, "second@xoserve.com", "email_change")
    clock.advance(timedelta(hours=25))
    with pytest.raises(InvalidInput, match="expired"):
        confirm_email_change(ctx, second)
    assert get_identity(ctx, SYSTEM, alex.login_id).login_id == "alex.morgan@xoserve.com"
