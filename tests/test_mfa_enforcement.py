"""Enforcement (issue 6): who must enrol, what an unenrolled or half-signed-in session can do,
privileged changes only from a verified sign-in, an admin's reset of someone else's MFA, and
password resets that never bypass an enrolled factor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from services.auth import MfaStep, complete_enrolment, complete_sign_in, sign_in
from services.authz import MFA_NEEDED_MESSAGE, SYSTEM, Action, Operator, allowed
from services.clock import ManualClock
from services.context import Context
from services.errors import MfaCodeRequired, PermissionDenied
from services.mfa.admin import reset_mfa
from services.mfa.engine import current_policy
from services.mfa.enrolment import confirm_enrolment, my_status, start_enrolment
from services.reset import complete_reset, issue_reset
from services.store.schema import audit_event, outbox
from services.users import add_identity, list_identities, rename_identity

PASSWORD = "copper meadow lantern ninety"


def test_an_lso_in_the_grace_period_reads_but_cannot_change(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    lso = make_person("lso", org="NWGS", password=PASSWORD)
    session = sign_in(ctx, lso.login_id, PASSWORD)
    assert session.mfa is MfaStep.ENROL_SOON and session.complete
    assert session.enrol_by == ctx.now() + current_policy().grace
    assert not session.operator.mfa_verified
    assert list_identities(ctx, session.operator)  # reading is allowed
    assert allowed(session.operator, Action.IDENTITY_READ, org_id=lso.organisation_id)
    assert not allowed(session.operator, Action.IDENTITY_CREATE, org_id=lso.organisation_id)
    with pytest.raises(PermissionDenied) as refused:
        add_identity(ctx, session.operator, "new.person@nwgs.example", "New", "Person", "NWGS")
    assert str(refused.value) == MFA_NEEDED_MESSAGE
    # Enrolling within the grace period gives a verified session at once.
    enrolment = start_enrolment(ctx, session.operator)
    verified, confirmed = complete_enrolment(
        ctx, session, pyotp.TOTP(enrolment.secret).at(ctx.now()))
    assert verified.mfa is MfaStep.VERIFIED and len(confirmed.recovery_codes) == 10
    added = add_identity(ctx, verified.operator, "new.person@nwgs.example", "New", "Person",
                         "NWGS")
    assert added.org_code == "NWGS"


def test_after_the_grace_period_an_lso_can_only_enrol(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator]) -> None:
    lso = make_person("lso", org="NWGS", password=PASSWORD)
    first = sign_in(ctx, lso.login_id, PASSWORD)  # the grace period starts here
    clock.advance(current_policy().grace + timedelta(seconds=1))
    session = sign_in(ctx, lso.login_id, PASSWORD)
    assert session.mfa is MfaStep.ENROL_NOW and not session.complete
    assert session.enrol_by == first.enrol_by
    op = session.operator
    assert op.roles == frozenset() and not op.mfa_verified
    for action in Action:
        assert not allowed(op, action, org_id=lso.organisation_id, subject=lso.subject)
    with pytest.raises(PermissionDenied, match="nothing else is allowed"):
        add_identity(ctx, op, "x.y@nwgs.example", "X", "Y", "NWGS")
    with pytest.raises(PermissionDenied, match="nothing else is allowed"):
        rename_identity(ctx, op, lso.subject, 1, "Renamed", "Self")
    assert [i.subject for i in list_identities(ctx, op)] == [lso.subject]  # only themselves
    assert my_status(ctx, op).required
    enrolment = start_enrolment(ctx, op)
    verified, _ = complete_enrolment(ctx, session, pyotp.TOTP(enrolment.secret).at(ctx.now()))
    assert verified.operator.mfa_verified and verified.operator.roles >= {"lso"}
    add_identity(ctx, verified.operator, "x.y@nwgs.example", "X", "Y", "NWGS")


def test_a_session_waiting_for_its_code_can_do_nothing(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator]) -> None:
    admin = make_person("platform_admin", password=PASSWORD)
    enrolment = start_enrolment(ctx, admin)
    confirm_enrolment(ctx, admin, pyotp.TOTP(enrolment.secret).at(ctx.now()))
    clock.advance(timedelta(seconds=30))
    session = sign_in(ctx, admin.login_id, PASSWORD)
    assert session.mfa is MfaStep.CODE_NEEDED and not session.complete
    with pytest.raises(PermissionDenied, match="enter the code"):
        add_identity(ctx, session.operator, "a.b@xos.example", "A", "B", "XOS")
    with pytest.raises(PermissionDenied, match="Finish signing in"):
        start_enrolment(ctx, session.operator)  # a password alone cannot swap the factor
    verified = complete_sign_in(ctx, session, pyotp.TOTP(enrolment.secret).at(ctx.now()))
    add_identity(ctx, verified.operator, "a.b@xos.example", "A", "B", "XOS")


def test_people_without_a_privileged_role_are_not_asked(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    for roles in ((), ("security_reviewer",)):
        person = make_person(*roles, password=PASSWORD)
        session = sign_in(ctx, person.login_id, PASSWORD)
        assert session.mfa is MfaStep.NOT_REQUIRED and session.complete


def test_the_system_still_sets_up_and_seeds() -> None:
    assert SYSTEM.mfa_verified and allowed(SYSTEM, Action.DEMO_SEED)


def test_admin_reset_of_someone_else_with_reason_and_mail(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator]) -> None:
    admin = make_person("platform_admin", password=PASSWORD)
    lso = make_person("lso", org="NWGS", password=PASSWORD)
    enrolment = start_enrolment(ctx, lso)
    confirm_enrolment(ctx, lso, pyotp.TOTP(enrolment.secret).at(ctx.now()))
    with pytest.raises(PermissionDenied, match="separation of duties"):
        reset_mfa(ctx, admin, admin.login_id, "my phone is lost")
    with pytest.raises(PermissionDenied):
        reset_mfa(ctx, lso, admin.login_id, "lso may not")
    unverified = sign_in(ctx, admin.login_id, PASSWORD).operator
    with pytest.raises(PermissionDenied, match="two-step verification"):
        reset_mfa(ctx, unverified, lso.login_id, "phone lost")
    reset_mfa(ctx, admin, lso.login_id, "phone lost, ticket 4711")
    session = sign_in(ctx, lso.login_id, PASSWORD)
    assert session.mfa is MfaStep.ENROL_NOW  # re-enrol at the next sign-in, no grace
    with ctx.store.read() as conn:
        mails = conn.execute(select(outbox.c.to_address, outbox.c.kind).where(
            outbox.c.kind == "mfa_reset")).all()
        event = conn.execute(select(audit_event).where(audit_event.c.action == "mfa.reset")
                             ).one()
    assert [tuple(m) for m in mails] == [(lso.login_id, "mfa_reset")]
    assert event.reason == "phone lost, ticket 4711" and event.actor == admin.login_id
    # The old authenticator is gone: a new enrolment is needed and works.
    fresh = start_enrolment(ctx, session.operator)
    verified, _ = complete_enrolment(ctx, session, pyotp.TOTP(fresh.secret).at(ctx.now()))
    assert verified.mfa is MfaStep.VERIFIED


def test_a_password_reset_never_bypasses_the_factor(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator]) -> None:
    lso = make_person("lso", org="NWGS", password=PASSWORD)
    enrolment = start_enrolment(ctx, lso)
    confirm_enrolment(ctx, lso, pyotp.TOTP(enrolment.secret).at(ctx.now()))
    clock.advance(timedelta(seconds=30))
    with ctx.store.write() as conn:
        token = issue_reset(ctx, conn, SYSTEM, lso.subject, "admin")
    new_password = "violet harbour engine thistle"
    with pytest.raises(MfaCodeRequired):
        complete_reset(ctx, token, new_password)
    with pytest.raises(MfaCodeRequired):
        complete_reset(ctx, token, new_password, otp="000000")
    complete_reset(ctx, token, new_password,
                   otp=pyotp.TOTP(enrolment.secret).at(ctx.now()))
    assert sign_in(ctx, lso.login_id, new_password).mfa is MfaStep.CODE_NEEDED


def test_the_demo_admin_reaches_enrolment_on_first_sign_in(ctx: Context) -> None:
    from services.demo import first_run

    accounts = {a.role: a for a in first_run(ctx, SYSTEM, users=5)}
    admin = accounts["platform_admin"]
    session = sign_in(ctx, admin.email, admin.password)
    assert session.mfa is MfaStep.ENROL_SOON and session.complete
    enrolment = start_enrolment(ctx, session.operator)
    verified, _ = complete_enrolment(ctx, session, pyotp.TOTP(enrolment.secret).at(ctx.now()))
    assert verified.operator.mfa_verified
    add_identity(ctx, verified.operator, "first.change@xoserve.example", "First", "Change",
                 "XOS")
    reviewer = accounts["security_reviewer"]
    assert sign_in(ctx, reviewer.email, reviewer.password).mfa is MfaStep.NOT_REQUIRED
