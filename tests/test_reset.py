"""Password resets: single-use, expiring, purpose-bound tokens; forced and self-service."""

from __future__ import annotations

import multiprocessing
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.auth import sign_in
from services.authz import SYSTEM
from services.credentials import PasswordRejected
from services.errors import InvalidInput, PermissionDenied, SignInFailed
from services.reset import (
    REQUEST_ANSWER,
    UNUSABLE_CODE_MESSAGE,
    change_password,
    complete_reset,
    force_reset,
    issue_reset,
    request_reset,
)
from services.store.schema import audit_event, identity, outbox, password_history, reset_token
from services.users import add_identity, get_identity

GOOD = "maple obtuse quarry lantern"
ALSO_GOOD = "violet harbour pencil drizzle"


def mailed_codes(ctx, address: str) -> list[str]:
    """The reset codes in the outbox for an address, newest last (read as the mail would be)."""
    with ctx.store.read() as conn:
        rows = conn.execute(select(outbox.c.body_sealed).where(
            outbox.c.to_address == address, outbox.c.kind == "reset_link")
            .order_by(outbox.c.id)).all()
    codes = []
    for (sealed,) in rows:
        body = ctx.vault.decrypt(sealed, "outbox-body").decode()
        codes.extend(dict.fromkeys(re.findall(r"[A-Za-z0-9_-]{43}", body)))
    return codes


@pytest.fixture
def person(ctx, make_person):
    make_person("platform_admin")
    return add_identity(ctx, SYSTEM, "Alex.Morgan@northwind.example", "Alex", "Morgan", "XOS",
                        ["DES:viewer"])


def test_forced_reset_mails_a_code_that_sets_the_password(ctx, make_person, person):
    admin = make_person("platform_admin")
    force_reset(ctx, admin, "alex.morgan@northwind.example", reason="migration wave 1")
    codes = mailed_codes(ctx, "Alex.Morgan@northwind.example")  # the stored address
    assert len(codes) == 1
    subject = complete_reset(ctx, codes[0], GOOD)
    assert subject == person.subject
    detail = get_identity(ctx, SYSTEM, person.subject)
    assert detail.status == "active" and detail.has_password
    assert sign_in(ctx, "alex.morgan@northwind.example", GOOD).operator.subject == subject
    with ctx.store.read() as conn:
        kinds = [r[0] for r in conn.execute(select(outbox.c.kind).order_by(outbox.c.id))]
        history = conn.execute(select(func.count()).select_from(password_history)).scalar_one()
        actions = [r[0] for r in conn.execute(select(audit_event.c.action))]
    assert kinds == ["reset_link", "password_changed"]
    assert history == 1
    assert {"reset.force", "reset.issue", "reset.complete"} <= set(actions)


def test_a_code_works_once(ctx, person):
    with ctx.store.write() as conn:
        code = issue_reset(ctx, conn, SYSTEM, person.subject, "admin")
    complete_reset(ctx, code, GOOD)
    with pytest.raises(InvalidInput) as refused:
        complete_reset(ctx, code, ALSO_GOOD)
    assert str(refused.value) == UNUSABLE_CODE_MESSAGE


def test_a_code_expires_by_purpose(ctx, clock, person):
    with ctx.store.write() as conn:
        self_service = issue_reset(ctx, conn, SYSTEM, person.subject, "self_service")
        migration = issue_reset(ctx, conn, SYSTEM, person.subject, "migration")
    clock.advance(timedelta(minutes=31))
    with pytest.raises(InvalidInput):
        complete_reset(ctx, self_service, GOOD)
    clock.advance(timedelta(days=13))
    assert complete_reset(ctx, migration, GOOD) == person.subject


def test_a_code_is_bound_to_its_purpose(ctx, person):
    with ctx.store.write() as conn:
        code = issue_reset(ctx, conn, SYSTEM, person.subject, "self_service")
    with pytest.raises(InvalidInput):
        complete_reset(ctx, code, GOOD, purpose="migration")
    assert complete_reset(ctx, code, GOOD, purpose="self_service") == person.subject


def test_success_revokes_the_other_open_codes(ctx, person):
    with ctx.store.write() as conn:
        first = issue_reset(ctx, conn, SYSTEM, person.subject, "admin")
        second = issue_reset(ctx, conn, SYSTEM, person.subject, "self_service")
    complete_reset(ctx, second, GOOD)
    with pytest.raises(InvalidInput):
        complete_reset(ctx, first, ALSO_GOOD)
    with ctx.store.read() as conn:
        revoked = conn.execute(select(func.count()).select_from(reset_token).where(
            reset_token.c.revoked_at.is_not(None))).scalar_one()
    assert revoked == 1


def test_a_rejected_password_leaves_the_code_usable(ctx, person):
    with ctx.store.write() as conn:
        code = issue_reset(ctx, conn, SYSTEM, person.subject, "admin")
    with pytest.raises(PasswordRejected) as rejected:
        complete_reset(ctx, code, "Summer2026!!")
    assert rejected.value.reasons and "Summer2026" not in str(rejected.value)
    assert complete_reset(ctx, code, GOOD) == person.subject


def test_tokens_are_stored_only_as_hashes(ctx, person):
    with ctx.store.write() as conn:
        code = issue_reset(ctx, conn, SYSTEM, person.subject, "admin")
    with ctx.store.read() as conn:
        stored = [tuple(map(str, r)) for r in conn.execute(select(reset_token)).all()]
        mails = [tuple(map(str, r)) for r in conn.execute(select(outbox)).all()]
    assert not any(code in cell for row in stored + mails for cell in row)
    assert len(code) >= 43  # 256 bits, URL-safe base64


def test_self_service_request_answers_the_same_for_unknown_addresses(ctx, person):
    assert request_reset(ctx, "ALEX.MORGAN@northwind.example") == REQUEST_ANSWER
    assert request_reset(ctx, "nobody@northwind.example") == REQUEST_ANSWER
    assert request_reset(ctx, "not an address") == REQUEST_ANSWER
    assert len(mailed_codes(ctx, "Alex.Morgan@northwind.example")) == 1
    with ctx.store.read() as conn:
        total = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    assert total == 1


def test_self_service_requests_are_rate_limited_per_address(ctx, clock, person):
    for _ in range(8):
        assert request_reset(ctx, "alex.morgan@northwind.example") == REQUEST_ANSWER
    assert len(mailed_codes(ctx, "Alex.Morgan@northwind.example")) == 5
    clock.advance(timedelta(hours=1, seconds=1))
    request_reset(ctx, "alex.morgan@northwind.example")
    assert len(mailed_codes(ctx, "Alex.Morgan@northwind.example")) == 6
    # Requests never lock the account.
    with ctx.store.read() as conn:
        status = conn.execute(select(identity.c.status).where(
            identity.c.subject == person.subject)).scalar_one()
    assert status == "reset_required"


class FakeMfa:
    """Stands in for the MFA capability at the hook a reset must pass through."""

    def __init__(self, subject: str) -> None:
        self.subject = subject

    def required(self, conn, subject):
        return subject == self.subject

    def verify(self, conn, subject, code):
        return code == "246810"


def test_a_reset_never_bypasses_enrolled_mfa(ctx, person):
    with ctx.store.write() as conn:
        code = issue_reset(ctx, conn, SYSTEM, person.subject, "self_service")
    mfa = FakeMfa(person.subject)
    with pytest.raises(InvalidInput, match="authenticator"):
        complete_reset(ctx, code, GOOD, mfa=mfa)
    with pytest.raises(InvalidInput, match="authenticator"):
        complete_reset(ctx, code, GOOD, otp="000000", mfa=mfa)
    # With MFA the policy allows 12 characters (NIST SP 800-63B-4).
    assert complete_reset(ctx, code, GOOD, otp="246810", mfa=mfa) == person.subject


def test_forcing_a_reset_is_scoped_by_role(ctx, make_person, person):
    reviewer = make_person("security_reviewer")
    other_lso = make_person("lso", org="BRWS")
    own_lso = make_person("lso", org="XOS")
    for who in (reviewer, other_lso):
        with pytest.raises(PermissionDenied):
            force_reset(ctx, who, person.login_id)
    assert mailed_codes(ctx, person.email) == []
    force_reset(ctx, own_lso, person.login_id)
    assert len(mailed_codes(ctx, person.email)) == 1


def test_forcing_a_reset_stops_the_current_password(ctx, make_person):
    admin = make_person("platform_admin")
    user = make_person(password=GOOD)
    assert sign_in(ctx, user.login_id, GOOD)
    force_reset(ctx, admin, user.login_id)
    with pytest.raises(SignInFailed):
        sign_in(ctx, user.login_id, GOOD)


def test_change_password_checks_the_current_one_and_history(ctx, make_person):
    user = make_person(password=GOOD)
    with pytest.raises(SignInFailed):
        change_password(ctx, user, "wrong current password", ALSO_GOOD)
    change_password(ctx, user, GOOD, ALSO_GOOD)
    assert sign_in(ctx, user.login_id, ALSO_GOOD)
    with pytest.raises(PasswordRejected):
        change_password(ctx, user, ALSO_GOOD, ALSO_GOOD)  # reused


def _complete(url: str, code: str, password: str, start, results) -> None:
    import os

    os.environ["PYTHON_KEYRING_BACKEND"] = "tests.memory_keyring.FileKeyring"
    from services.context import open_context
    from services.errors import GatehouseError

    ctx = open_context(url)
    start.wait(10)
    try:
        complete_reset(ctx, code, password)
        results.put("won")
    except GatehouseError as exc:
        results.put(str(exc))
    finally:
        ctx.close()


def test_two_concurrent_completions_exactly_one_wins(db_url, tmp_path, monkeypatch):
    import json

    from services.context import open_context
    from tests.memory_keyring import FileKeyring

    keyring_file = tmp_path / "keyring.json"
    monkeypatch.setenv("GATEHOUSE_TEST_KEYRING", str(keyring_file))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.memory_keyring.FileKeyring")
    import keyring

    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    try:
        ctx = open_context(db_url)
        from services.setup import ensure_company

        ensure_company(ctx)
        person = add_identity(ctx, SYSTEM, "race@northwind.example", "Rae", "Race", "XOS")
        with ctx.store.write() as conn:
            code = issue_reset(ctx, conn, SYSTEM, person.subject, "admin")
        ctx.close()
    finally:
        keyring.set_keyring(previous)
    assert json.loads(keyring_file.read_text())
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Event(), spawn.Queue()
    workers = [spawn.Process(target=_complete, args=(db_url, code, pw, start, results))
               for pw in (GOOD, ALSO_GOOD)]
    for w in workers:
        w.start()
    start.set()
    outcomes = sorted(results.get(timeout=60) for _ in workers)
    for w in workers:
        w.join(30)
    assert outcomes == sorted(["won", UNUSABLE_CODE_MESSAGE])


def test_wrong_current_passwords_count_like_failed_sign_ins(ctx, make_person):
    from services.errors import AccountLocked

    user = make_person(password=GOOD)
    for _ in range(10):  # policies/identity.toml: max_failures
        with pytest.raises(SignInFailed):
            change_password(ctx, user, "a wrong guess at it", ALSO_GOOD)
    with pytest.raises(AccountLocked):
        sign_in(ctx, user.login_id, GOOD)


def test_a_code_for_an_mfa_account_asks_for_the_authenticator_distinctly(ctx, person):
    from services.errors import MfaCodeRequired

    with ctx.store.write() as conn:
        code = issue_reset(ctx, conn, SYSTEM, person.subject, "self_service")
    with pytest.raises(MfaCodeRequired):
        complete_reset(ctx, code, GOOD, mfa=FakeMfa(person.subject))
