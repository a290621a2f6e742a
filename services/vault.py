"""Secrets at rest: AES-GCM under a master key held in the OS keyring or a passphrase file.

There is never a plaintext fallback. With no usable keyring backend the caller is told so and
how to fix it; the alternative is a key file the person chose explicitly, its key wrapped with a
scrypt-derived key (mode 0600, written atomically). Keyring backends that keep secrets in
plaintext (``keyrings.alt``'s PlaintextKeyring) are refused like a missing one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from services.errors import InvalidInput, VaultUnavailable

KEYRING_SERVICE = "gatehouse"
KEY_FILE_FORMAT = "gatehouse-key-file/1"
# RFC 7914 / OWASP: scrypt N=2^17, r=8, p=1 for interactive unlocking.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MIN_PASSPHRASE = 12

NO_KEYRING_HELP = (
    "No usable keyring backend was found on this computer (on Linux, a Secret Service such as "
    "GNOME Keyring or KWallet must be running and unlocked). Start one, or choose a "
    "passphrase-protected key file instead: --key-file FILE with the passphrase in "
    "GATEHOUSE_KEY_PASSPHRASE (or GATEHOUSE_KEY_FILE for the path)."
)


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"gatehouse key id" + key).hexdigest()[:16]


class Vault:
    """AES-GCM with a random 96-bit nonce; the context string is bound as associated data."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 256 bits")
        self._aead = AESGCM(master_key)
        self.key_id = key_id_of(master_key)

    def encrypt(self, plaintext: bytes, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return f"v1.{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> bytes:
        try:
            version, key_id, body = token.split(".", 2)
        except ValueError:
            raise VaultUnavailable("A stored secret is damaged (not a vault ciphertext).") from None
        if version != "v1":
            raise VaultUnavailable(f"A stored secret uses an unknown format {version!r}.")
        if key_id != self.key_id:
            raise VaultUnavailable(
                f"A stored secret was sealed with master key {key_id}, but this computer holds "
                f"key {self.key_id}; import the store's key (see README, 'Shared store')."
            )
        try:
            raw = base64.urlsafe_b64decode(body)
            return self._aead.decrypt(raw[:12], raw[12:], context.encode())
        except (InvalidTag, ValueError):  # ValueError: damaged base64 or a cut-short body
            raise VaultUnavailable(
                "A stored secret failed its integrity check: it was altered or belongs elsewhere."
            ) from None


@dataclass(frozen=True)
class KeyAccess:
    """Where the master key lives: the OS keyring (default) or a chosen key file."""

    key_file: Path | None = None
    passphrase: str | None = None

    @classmethod
    def from_env(cls, key_file: str | None = None) -> KeyAccess:
        path = key_file or os.environ.get("GATEHOUSE_KEY_FILE")
        return cls(
            key_file=Path(path).expanduser() if path else None,
            passphrase=os.environ.get("GATEHOUSE_KEY_PASSPHRASE"),
        )


# ---- keyring -------------------------------------------------------------------------------


def _usable_keyring() -> Any:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    name = type(backend).__name__
    chained = getattr(backend, "backends", None)
    if isinstance(backend, fail.Keyring) or "Plaintext" in name or chained == []:
        raise VaultUnavailable(NO_KEYRING_HELP)
    return backend


def _keyring_entry(store_id: str) -> str:
    return f"master-key/{store_id}"


def keyring_get(store_id: str) -> bytes | None:
    from keyring.errors import KeyringError

    backend = _usable_keyring()
    try:
        value = backend.get_password(KEYRING_SERVICE, _keyring_entry(store_id))
    except KeyringError as exc:
        raise VaultUnavailable(f"{NO_KEYRING_HELP} (The keyring said: {exc}.)") from None
    return base64.b64decode(value) if value else None


def keyring_set(store_id: str, key: bytes) -> None:
    from keyring.errors import KeyringError

    backend = _usable_keyring()
    try:
        backend.set_password(
            KEYRING_SERVICE, _keyring_entry(store_id), base64.b64encode(key).decode()
        )
    except KeyringError as exc:
        raise VaultUnavailable(f"{NO_KEYRING_HELP} (The keyring said: {exc}.)") from None


# ---- key file ------------------------------------------------------------------------------


def _kek(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(
        passphrase.encode()
    )


def write_key_file(path: Path, store_id: str, key: bytes, passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(
            f"The key file passphrase must be at least {MIN_PASSPHRASE} characters; "
            "choose a longer one."
        )
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    wrapped = AESGCM(_kek(passphrase, salt)).encrypt(nonce, key, store_id.encode())
    document = {
        "format": KEY_FILE_FORMAT,
        "store_id": store_id,
        "key_id": key_id_of(key),
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
                "salt": base64.b64encode(salt).decode()},
        "nonce": base64.b64encode(nonce).decode(),
        "wrapped_key": base64.b64encode(wrapped).decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Temp file, fsync, os.replace, mode 0600: whole or absent, never readable by others.
    fd, tmp = tempfile.mkstemp(prefix=".gatehouse-key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_key_file(path: Path, passphrase: str | None) -> tuple[str, bytes]:
    """Returns (store_id, master key) from a key file."""
    if passphrase is None:
        raise VaultUnavailable(
            f"The key file {path} needs its passphrase: set GATEHOUSE_KEY_PASSPHRASE."
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != KEY_FILE_FORMAT:
            raise ValueError("unknown format")
        kdf = document["kdf"]
        kek = Scrypt(
            salt=base64.b64decode(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]
        ).derive(passphrase.encode())
        store_id = str(document["store_id"])
        key = AESGCM(kek).decrypt(
            base64.b64decode(document["nonce"]),
            base64.b64decode(document["wrapped_key"]),
            store_id.encode(),
        )
    except FileNotFoundError:
        raise VaultUnavailable(f"The key file {path} does not exist.") from None
    except InvalidTag:
        raise VaultUnavailable(
            f"The passphrase for the key file {path} is wrong (or the file was altered)."
        ) from None
    except (ValueError, KeyError, TypeError, OSError):
        raise VaultUnavailable(f"{path} is not a Gatehouse key file.") from None
    return store_id, key


# ---- the master key for a store ------------------------------------------------------------


def load_master_key(store_id: str, access: KeyAccess) -> bytes:
    if access.key_file is not None:
        file_store, key = read_key_file(access.key_file, access.passphrase)
        if file_store != store_id:
            raise VaultUnavailable(
                f"The key file {access.key_file} belongs to another store ({file_store}), not "
                f"to this one ({store_id})."
            )
        return key
    stored = keyring_get(store_id)
    if stored is None:
        raise VaultUnavailable(
            f"This computer's keyring holds no master key for store {store_id}. Import it from "
            "the key file another admin exported: python main.py key import FILE."
        )
    return stored


def create_master_key(store_id: str, access: KeyAccess) -> bytes:
    key = secrets.token_bytes(32)
    if access.key_file is not None:
        if access.passphrase is None:
            raise VaultUnavailable(
                f"Creating the key file {access.key_file} needs a passphrase: set "
                "GATEHOUSE_KEY_PASSPHRASE."
            )
        write_key_file(access.key_file, store_id, key, access.passphrase)
    else:
        keyring_set(store_id, key)
    return key
