"""Command-line sessions (services.mfa.cli_session): only a hash stored, expiring, ended by
sign-out and by an MFA reset, with the person's roles read afresh on every use."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.auth import sign_in
from services.authz import Operator
from services.clock import ManualClock
from services.context import Context
from services.errors import InvalidInput, PermissionDenied
from services.mfa.admin import reset_mfa
from services.mfa.cli_session import end_cli_session, issue_cli_session, resume_cli_session
from services.mfa.engine import current_policy
from services.store.schema import cli_session
from tests.conftest import enrol_verified

PASSWORD = "harbour violet engine sixty"


def test_issue_resume_expire(ctx: Context, clock: ManualClock,
                             make_person: Callable[..., Operator],
                             secrets_to_scan: set[str]) -> None:
    lso = make_person("lso", org="NWGS", password=PASSWORD)
    verified = enrol_verified(ctx, sign_in(ctx, lso.login_id, PASSWORD), secrets_to_scan)
    issued = issue_cli_session(ctx, verified.operator)
    secrets_to_scan.add(issued.token)
    assert len(issued.token) >= 43  # 256 bits, URL-safe base64
    with ctx.store.read() as conn:
        stored = conn.execute(select(cli_session.c.token_hash)).scalar_one()
    assert stored == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in stored
    op = resume_cli_session(ctx, issued.token)
    assert op.mfa_verified and op.subject == lso.subject and "lso" in op.roles
    clock.advance(current_policy().cli_session)
    with pytest.raises(InvalidInput, match="expired or ended"):
        resume_cli_session(ctx, issued.token)
    with pytest.raises(InvalidInput):
        resume_cli_session(ctx, "not-a-token")


def test_sign_out_and_reset_end_sessions(ctx: Context, make_person: Callable[..., Operator],
                                         secrets_to_scan: set[str]) -> None:
    admin = make_person("platform_admin")
    lso = make_person("lso", org="NWGS", password=PASSWORD)
    verified = enrol_verified(ctx, sign_in(ctx, lso.login_id, PASSWORD), secrets_to_scan)
    first, second = (issue_cli_session(ctx, verified.operator) for _ in range(2))
    assert end_cli_session(ctx, first.token) and not end_cli_session(ctx, first.token)
    with pytest.raises(InvalidInput):
        resume_cli_session(ctx, first.token)
    resume_cli_session(ctx, second.token)
    reset_mfa(ctx, admin, lso.login_id, "device stolen")
    with pytest.raises(InvalidInput):
        resume_cli_session(ctx, second.token)


def test_only_a_finished_sign_in_gets_a_session(ctx: Context, clock: ManualClock,
                                                make_person: Callable[..., Operator],
                                                secrets_to_scan: set[str]) -> None:
    lso = make_person("lso", org="NWGS", password=PASSWORD)
    enrol_verified(ctx, sign_in(ctx, lso.login_id, PASSWORD), secrets_to_scan)
    clock.advance(timedelta(seconds=30))
    waiting = sign_in(ctx, lso.login_id, PASSWORD)  # the code is still due
    with pytest.raises(PermissionDenied):
        issue_cli_session(ctx, waiting.operator)
