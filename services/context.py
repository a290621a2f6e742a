"""The open Gatehouse: store, clock, vault and audit log, handed to every service function."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from policies import IdentityPolicy, load_identity_policy
from services.audit import AuditLog, Change
from services.authz import Operator
from services.clock import Clock
from services.errors import VaultUnavailable
from services.store import Store, open_store
from services.store.schema import secret, store_meta
from services.vault import KeyAccess, Vault, create_master_key, load_master_key

AUDIT_KEY = "audit-hmac-key"


@dataclass
class Context:
    store: Store
    vault: Vault
    audit: AuditLog
    store_id: str
    identity_policy: IdentityPolicy = field(default_factory=load_identity_policy)

    @property
    def clock(self) -> Clock:
        return self.store.clock

    def now(self) -> datetime:
        return self.store.clock.now()

    def record(self, conn: Connection, op: Operator, action: str, target_type: str,
               target_id: str, *, change: Change | None = None, result: str = "success",
               reason: str = "", correlation_id: str | None = None) -> int:
        return self.audit.append(
            conn, at=self.now(), actor=op.login_id, action=action, target_type=target_type,
            target_id=target_id, result=result, reason=reason, change=change,
            correlation_id=correlation_id,
        )

    def close(self) -> None:
        self.store.close()


def read_store_id(store: Store) -> str | None:
    with store.read() as conn:
        value = conn.execute(
            select(store_meta.c.value).where(store_meta.c.key == "store_id")
        ).scalar_one_or_none()
    return value


def open_context(url: str | None = None, *, access: KeyAccess | None = None,
                 clock: Clock | None = None, create: bool = True) -> Context:
    """Open the store and unlock its secrets; a new store gets its id, master and audit keys."""
    store = open_store(url, clock=clock, must_exist=not create)
    try:
        return _unlock(store, access or KeyAccess.from_env(), create=create)
    except BaseException:
        store.close()
        raise


def _set_up_keys(store: Store, access: KeyAccess) -> tuple[str, bytes | None]:
    """Give a new store its id, master key and audit key — once, even if two desktops race.

    The id row is claimed first inside the transaction, so only the winner writes a master key;
    a keyring failure rolls everything back and leaves the store as it was.
    """
    store_id = str(uuid.uuid4())
    try:
        with store.write() as conn:
            conn.execute(insert(store_meta).values(key="store_id", value=store_id))
            master = create_master_key(store_id, access)
            vault = Vault(master)
            conn.execute(insert(secret).values(
                name=AUDIT_KEY, created_at=store.clock.now(),
                ciphertext=vault.encrypt(secrets.token_bytes(32), f"secret:{AUDIT_KEY}"),
            ))
    except IntegrityError:
        winner = read_store_id(store)
        if winner is None:
            raise
        return winner, None
    return store_id, master


def _unlock(store: Store, access: KeyAccess, *, create: bool) -> Context:
    store_id = read_store_id(store)
    if store_id is None:
        if not create:
            raise VaultUnavailable("This store has not been set up: run python main.py init.")
        store_id, master = _set_up_keys(store, access)
    else:
        master = None
    vault = Vault(master or load_master_key(store_id, access))
    with store.read() as conn:
        sealed = conn.execute(select(secret.c.ciphertext).where(secret.c.name == AUDIT_KEY)
                              ).scalar_one()
    audit = AuditLog(vault.decrypt(sealed, f"secret:{AUDIT_KEY}"))
    return Context(store=store, vault=vault, audit=audit, store_id=store_id)
