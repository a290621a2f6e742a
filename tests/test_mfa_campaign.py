"""Enrolment campaigns: the report against a seeded population, with every number checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from services.auth import sign_in
from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.errors import InvalidInput, PermissionDenied
from services.mfa.admin import reset_mfa
from services.mfa.campaign import coverage_report, send_reminders, start_campaign
from services.mfa.engine import current_policy
from services.mfa.enrolment import confirm_enrolment, start_enrolment
from services.mfa.errors import SignInWithCodeFailed
from services.store.schema import outbox

PASSWORD = "saffron kestrel window ladder"


def enrol(ctx: Context, person: Operator) -> None:
    started = start_enrolment(ctx, person)
    confirm_enrolment(ctx, person, pyotp.TOTP(started.secret).at(ctx.now()))


def counts(report: object, code: str) -> tuple[int, ...]:
    org = next(o for o in report.organisations if o.org_code == code)  # type: ignore[attr-defined]
    return (org.total, org.enrolled, org.pending, org.overdue, org.locked, org.reset,
            org.coverage_percent)


def test_campaign_report_against_a_seeded_population(
        ctx: Context, clock: ManualClock, make_person: Callable[..., Operator]) -> None:
    admin = make_person("platform_admin", password=PASSWORD)
    a = [make_person("lso", org="AAA", password=PASSWORD) for _ in range(4)]
    b = [make_person("lso", org="BBB", password=PASSWORD) for _ in range(3)]
    c = [make_person("lso", org="CCC", password=PASSWORD) for _ in range(2)]
    make_person("security_reviewer", org="AAA")  # not an LSO: never targeted
    for person in (a[0], a[1], a[2], b[0]):
        enrol(ctx, person)
    reset_mfa(ctx, admin, b[0].login_id, "lost phone")

    start = clock.now()
    with pytest.raises(InvalidInput):
        start_campaign(ctx, admin, role="lso", enrol_by=start - timedelta(days=1))
    with pytest.raises(PermissionDenied):
        start_campaign(ctx, a[0], role="lso", enrol_by=start + timedelta(days=7))
    summary = start_campaign(ctx, admin, role="lso", org_codes=["aaa", "BBB"],
                             enrol_by=start + timedelta(days=7))
    assert (summary.targets, summary.org_codes) == (7, ("AAA", "BBB"))
    # Reminders go to the targets without an authenticator: a[3], b[0] (reset), b[1], b[2].
    assert summary.reminders_queued == 4
    with ctx.store.read() as conn:
        reminded = sorted(r[0] for r in conn.execute(select(outbox.c.to_address).where(
            outbox.c.kind == "mfa_campaign")))
    assert reminded == sorted(p.login_id for p in (a[3], b[0], b[1], b[2]))

    # A day later, a[2] is locked by wrong codes given with the password, as a guesser would.
    clock.advance(timedelta(days=1))
    for _ in range(current_policy().failures_before_lockout):
        with pytest.raises(SignInWithCodeFailed):
            sign_in(ctx, a[2].login_id, PASSWORD, otp="000000")
    report = coverage_report(ctx, admin, campaign_id=summary.id)
    assert [o.org_code for o in report.organisations] == ["AAA", "BBB"]
    #                           total enr pend over lock reset coverage
    assert counts(report, "AAA") == (4, 2, 1, 0, 1, 0, 75.0)
    assert counts(report, "BBB") == (3, 0, 2, 0, 0, 1, 0.0)
    totals = report.totals
    assert (totals.total, totals.with_mfa, totals.coverage_percent) == (7, 3, 42.9)
    statuses = {r.login_id: r.status for r in report.rows}
    assert statuses[a[2].login_id] == "locked" and statuses[b[0].login_id] == "reset"
    assert all(r.enrol_by == start + timedelta(days=7) for r in report.rows
               if r.login_id != b[0].login_id)

    # A week later: the lock has lifted, the unenrolled are overdue.
    clock.advance(timedelta(days=7))
    report = coverage_report(ctx, admin, campaign_id=summary.id)
    assert counts(report, "AAA") == (4, 3, 0, 1, 0, 0, 75.0)
    assert counts(report, "BBB") == (3, 0, 0, 2, 0, 1, 0.0)
    overdue = coverage_report(ctx, admin, campaign_id=summary.id, status="overdue")
    assert sorted(r.login_id for r in overdue.rows) == sorted(
        p.login_id for p in (a[3], b[1], b[2]))
    assert send_reminders(ctx, admin, summary.id) == 4

    # Without a campaign: every holder of a required role (the admin and CCC's LSOs too).
    everyone = coverage_report(ctx, admin)
    assert counts(everyone, "CCC") == (2, 0, 2, 0, 0, 0, 0.0)
    assert counts(everyone, "XOS") == (1, 0, 1, 0, 0, 0, 0.0)
    assert everyone.totals.total == 10
    assert {r.login_id for r in everyone.rows} >= {p.login_id for p in c}

    # An LSO sees their own organisation only; the document is plain JSON types.
    own = coverage_report(ctx, a[0], campaign_id=summary.id)
    assert [o.org_code for o in own.organisations] == ["AAA"]
    assert {r.org_code for r in own.rows} == {"AAA"}
    document = report.as_dict()
    assert document["totals"]["coverage_percent"] == 42.9
    assert len(document["identities"]) == 7
