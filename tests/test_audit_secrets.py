"""No password, passphrase, master key or password hash ever reaches the audit trail (DESIGN.md:
events carry when, who, what, target, result, reason and before/after values — never a
secret). Every store test is also scanned afterwards by conftest's ``_audit_secret_scan``; this
file exercises the paths that handle secrets on purpose and proves the scan can find one."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import delete

from services.audit import Change
from services.auth import accept_terms, sign_in, unlock_signin
from services.authz import SYSTEM
from services.clock import ManualClock
from services.context import Context, open_context
from services.demo import first_run
from services.errors import AccountLocked, SignInFailed
from services.password_hash import hash_password
from services.setup import init_admin
from services.store.schema import audit_event
from services.users import rename_identity
from services.vault import KeyAccess, load_master_key, write_key_file
from tests.conftest import audit_leaks, enrol_verified

ADMIN_PASSWORD = "violet tractor mountain lantern"
WRONG_PASSWORD = "violet tractor mountain lantern?"
KEY_PASSPHRASE = "plum orchard kettle sundial"
EXPORT_PASSPHRASE = "granite heron velvet compass"


def test_signing_in_setting_up_and_key_files_leave_no_secret_in_the_audit_trail(
        db_url: str, clock: ManualClock, tmp_path: Path, secrets_to_scan: set[str]) -> None:
    secrets_to_scan.update({ADMIN_PASSWORD, WRONG_PASSWORD, KEY_PASSPHRASE, EXPORT_PASSPHRASE})
    access = KeyAccess(key_file=tmp_path / "store.key", passphrase=KEY_PASSPHRASE)
    ctx = open_context(db_url, access=access, clock=clock)
    try:
        admin = init_admin(ctx, "dana.admin@xoserve.example", ADMIN_PASSWORD)
        session = sign_in(ctx, "Dana.Admin@xoserve.example", ADMIN_PASSWORD)
        accept_terms(ctx, session.operator)
        for _ in range(ctx.identity_policy.max_failures):
            with pytest.raises(SignInFailed):
                sign_in(ctx, "dana.admin@xoserve.example", WRONG_PASSWORD)
        with pytest.raises(AccountLocked):
            sign_in(ctx, "dana.admin@xoserve.example", ADMIN_PASSWORD)
        unlock_signin(ctx, SYSTEM, "dana.admin@xoserve.example")
        # Privileged changes need a second factor: enrol one (its secret and recovery codes join
        # the scan).
        operator = enrol_verified(ctx, sign_in(ctx, "dana.admin@xoserve.example",
                                               ADMIN_PASSWORD), secrets_to_scan).operator
        rename_identity(ctx, operator, admin.subject, admin.version, "Dana", "Admin-Smith")

        accounts = first_run(ctx, operator, users=3)
        for account in accounts:
            secrets_to_scan.add(account.password)
            sign_in(ctx, account.email, account.password)

        master = load_master_key(ctx.store_id, access)
        write_key_file(tmp_path / "export.key", ctx.store_id, master, EXPORT_PASSPHRASE)
        secrets_to_scan.add(base64.b64encode(master).decode())
        secrets_to_scan.add(base64.urlsafe_b64encode(master).decode())
        secrets_to_scan.add(master.hex())

        with ctx.store.read() as conn:
            result = ctx.audit.verify(conn)
        assert result.ok
        assert result.count > 20  # the scan below has plenty to look at
    finally:
        ctx.close()

    assert audit_leaks(db_url, secrets_to_scan) == []


def test_the_scan_finds_a_secret_planted_in_any_column(ctx: Context) -> None:
    planted_hash = hash_password(ADMIN_PASSWORD)
    with ctx.store.write() as conn:
        first = ctx.record(conn, SYSTEM, "test.plant", "identity", "s-1",
                           reason=f"user typed {ADMIN_PASSWORD}")
        second = ctx.record(conn, SYSTEM, "test.plant", "identity", "s-1",
                            change=Change(after={"note": planted_hash}))
    found = audit_leaks(ctx.store.engine.url.render_as_string(hide_password=False),
                        {ADMIN_PASSWORD})
    assert found == [f"event {first} column reason (secret #1)",
                     f"event {second} column after (secret #0)"]
    with ctx.store.write() as conn:  # leave the store clean for the automatic scan
        conn.execute(delete(audit_event).where(audit_event.c.seq.in_([first, second])))
