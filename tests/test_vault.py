"""Secrets at rest: AES-GCM under a master key from the OS keyring or a passphrase-protected key
file; never a plaintext fallback (DESIGN.md, Security model)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked

from services.audit import count_events
from services.clock import ManualClock
from services.context import open_context, read_store_id
from services.errors import InvalidInput, VaultUnavailable
from services.setup import ensure_company
from services.store import open_store
from services.vault import (
    KeyAccess,
    Vault,
    keyring_get,
    load_master_key,
    read_key_file,
    write_key_file,
)
from tests.memory_keyring import MemoryKeyring

PASSPHRASE = "correct horse battery staple"


@contextmanager
def keyring_backend(backend: KeyringBackend) -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield
    finally:
        keyring.set_keyring(previous)


# ---- AES-GCM -------------------------------------------------------------------------------


def test_round_trip_binds_the_context_and_never_shows_the_plaintext() -> None:
    vault = Vault(secrets.token_bytes(32))
    seed = b"JBSWY3DPEHPK3PXP-totp-seed"
    sealed = vault.encrypt(seed, "mfa:subject-1")
    assert vault.decrypt(sealed, "mfa:subject-1") == seed
    assert sealed.startswith(f"v1.{vault.key_id}.")
    assert seed.decode() not in sealed
    assert vault.encrypt(seed, "mfa:subject-1") != sealed  # a fresh nonce every time


def test_a_different_context_is_refused() -> None:
    vault = Vault(secrets.token_bytes(32))
    sealed = vault.encrypt(b"seed", "mfa:subject-1")
    with pytest.raises(VaultUnavailable, match="integrity check"):
        vault.decrypt(sealed, "mfa:subject-2")


def _flip_a_byte(token: str, index: int) -> str:
    version, key_id, body = token.split(".", 2)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[index] ^= 0x01
    return f"{version}.{key_id}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda t: _flip_a_byte(t, 0), id="nonce"),
    pytest.param(lambda t: _flip_a_byte(t, 14), id="ciphertext"),
    pytest.param(lambda t: _flip_a_byte(t, -1), id="tag"),
    pytest.param(lambda t: t[:-8], id="cut short"),
    pytest.param(lambda t: t.rsplit(".", 1)[0] + ".AAAA", id="body too short for a nonce"),
    pytest.param(lambda t: t[:30] + t[31:], id="base64 of impossible length"),
    pytest.param(lambda t: "v2" + t[2:], id="unknown format"),
    pytest.param(lambda t: "garbage", id="not a vault token"),
])
def test_a_tampered_ciphertext_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    vault = Vault(secrets.token_bytes(32))
    sealed = vault.encrypt(b"a secret worth protecting", "secret:audit-hmac-key")
    with pytest.raises(VaultUnavailable):
        vault.decrypt(tamper(sealed), "secret:audit-hmac-key")


def test_a_ciphertext_of_another_master_key_is_refused() -> None:
    ours, theirs = Vault(secrets.token_bytes(32)), Vault(secrets.token_bytes(32))
    sealed = theirs.encrypt(b"seed", "mfa:subject-1")
    with pytest.raises(VaultUnavailable, match="master key") as refused:
        ours.decrypt(sealed, "mfa:subject-1")
    assert theirs.key_id in str(refused.value)
    # Relabelled with our key id, the tag still fails.
    relabelled = sealed.replace(theirs.key_id, ours.key_id, 1)
    with pytest.raises(VaultUnavailable, match="integrity check"):
        ours.decrypt(relabelled, "mfa:subject-1")


# ---- keyring -------------------------------------------------------------------------------


def test_without_a_keyring_backend_a_new_store_is_refused_with_how_to_fix_it(
        db_url: str, clock: ManualClock) -> None:
    with keyring_backend(fail.Keyring()), pytest.raises(VaultUnavailable) as refused:
        open_context(db_url, clock=clock)
    message = str(refused.value)
    assert "No usable keyring backend" in message
    assert "--key-file" in message
    assert "GATEHOUSE_KEY_PASSPHRASE" in message

    store = open_store(db_url)
    try:
        assert read_store_id(store) is None  # nothing half set up
    finally:
        store.close()
    ctx = open_context(db_url, clock=clock)  # with the keyring back, set-up succeeds
    ctx.close()


class PlaintextKeyring(MemoryKeyring):
    """Named like keyrings.alt's file backend that keeps secrets readable on disk."""


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the collection is locked")


@pytest.mark.parametrize("backend", [fail.Keyring(), PlaintextKeyring(), LockedKeyring()],
                         ids=["fail", "plaintext", "locked"])
def test_unusable_keyring_backends_are_refused(backend: KeyringBackend) -> None:
    with keyring_backend(backend), pytest.raises(VaultUnavailable) as refused:
        keyring_get("some-store")
    assert "No usable keyring backend" in str(refused.value)


def test_the_test_keyring_is_usable() -> None:
    assert keyring_get("no-such-store") is None


# ---- key file ------------------------------------------------------------------------------


def test_key_file_is_0600_round_trips_and_refuses_wrong_passphrase_or_store(
        tmp_path: Path) -> None:
    key, path = secrets.token_bytes(32), tmp_path / "keys" / "gatehouse.key"
    old_umask = os.umask(0)  # the file must be private whatever the umask says
    try:
        write_key_file(path, "store-a", key, PASSPHRASE)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["gatehouse.key"]  # no temp file left
    text = path.read_text()
    assert base64.b64encode(key).decode() not in text
    assert PASSPHRASE not in text
    assert json.loads(text)["store_id"] == "store-a"

    assert read_key_file(path, PASSPHRASE) == ("store-a", key)
    assert load_master_key("store-a", KeyAccess(key_file=path, passphrase=PASSPHRASE)) == key

    with pytest.raises(VaultUnavailable, match=r"passphrase for the key file .* is wrong"):
        read_key_file(path, PASSPHRASE + "!")
    with pytest.raises(VaultUnavailable, match="belongs to another store"):
        load_master_key("store-b", KeyAccess(key_file=path, passphrase=PASSPHRASE))
    with pytest.raises(VaultUnavailable, match="GATEHOUSE_KEY_PASSPHRASE"):
        read_key_file(path, None)


def test_key_file_refusals_that_need_no_key_derivation(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="at least 12 characters"):
        write_key_file(tmp_path / "k", "store-a", secrets.token_bytes(32), "short")
    assert not (tmp_path / "k").exists()
    with pytest.raises(VaultUnavailable, match="does not exist"):
        read_key_file(tmp_path / "missing.key", PASSPHRASE)
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(VaultUnavailable, match="not a Gatehouse key file"):
        read_key_file(tmp_path / "other.json", PASSPHRASE)


def test_a_store_opened_with_a_key_file_needs_that_file_not_the_keyring(
        db_url: str, clock: ManualClock, tmp_path: Path, secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(PASSPHRASE)
    access = KeyAccess(key_file=tmp_path / "store.key", passphrase=PASSPHRASE)
    ctx = open_context(db_url, access=access, clock=clock)
    try:
        ensure_company(ctx)
        store_id = ctx.store_id
    finally:
        ctx.close()
    assert MemoryKeyring.entries == {}  # the key went to the file only
    assert stat.S_IMODE(access.key_file.stat().st_mode) == 0o600  # type: ignore[union-attr]

    with pytest.raises(VaultUnavailable, match="keyring holds no master key") as refused:
        open_context(db_url, clock=clock)
    assert store_id in str(refused.value)
    assert "key import" in str(refused.value)

    ctx = open_context(db_url, access=access, clock=clock)
    try:
        with ctx.store.read() as conn:
            assert ctx.audit.verify(conn).ok
            assert count_events(conn) == 1
    finally:
        ctx.close()
