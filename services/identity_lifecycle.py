"""Delete, restore, and give a deleted account's login ID to someone new.

Deleting keeps the identity (status ``deleted``, restorable) and tombstones its login ID until
the cooling-off in ``policies/identity.toml`` ends (Entra's 30-day restore window). After that
a new identity may claim the ID: a new subject id, and nothing of the previous holder — no
roles, MFA, password or history, reset codes, terms acceptance. Two admins claiming at once:
the partial unique index on live login IDs lets exactly one win, on both backends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from services.identity import describe_flags, normalise_email
from services.orgs import org_by_code
from services.store.schema import email_change, id_tombstone, identity, reset_token
from services.tombstones import PreviousHolder, cooling_off_until, previous_holders
from services.users import (
    IdentityDetail,
    clean_name,
    find_subject,
    load_detail,
    require_manage,
    update_versioned,
)


def _revoke_open_codes(conn: Connection, subject: str, now: datetime) -> None:
    """A deleted account must not be revived through a reset or e-mail code sent earlier."""
    for table in (reset_token, email_change):
        conn.execute(update(table).where(table.c.subject == subject, table.c.used_at.is_(None),
                                         table.c.revoked_at.is_(None))
                     .values(revoked_at=now))


def delete_identity(ctx: Context, op: Operator, key: str, *, reason: str,
                    expected_version: int | None = None) -> IdentityDetail:
    """Delete (restorably) and tombstone the login ID for the cooling-off."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give a reason for deleting this identity; it goes in the audit "
                           "trail.")
    now = ctx.now()
    with ctx.store.write() as conn:
        before = load_detail(conn, find_subject(conn, key))
        if expected_version is not None and before.version != expected_version:
            raise Conflict("This identity")  # whatever changed it, the reader must look again
        require_manage(op, Action.IDENTITY_DELETE, before)
        if before.subject == op.subject:
            raise InvalidInput("You cannot delete your own identity; ask another admin.")
        if before.status == "deleted":
            raise InvalidInput(f"{before.login_id} is already deleted.")
        if before.status == "merged":
            raise InvalidInput(f"{before.login_id} was merged into another identity; unmerge "
                               "it first, or delete the identity it belongs to.")
        update_versioned(ctx, conn, before.subject,
                before.version if expected_version is None else expected_version,
                {"status": "deleted"})
        reusable_after = now + ctx.identity_policy.reuse_cooling_off
        conn.execute(insert(id_tombstone).values(
            login_id=before.login_id, subject=before.subject, deleted_at=now,
            reusable_after=reusable_after, reason="deleted", prior_status=before.status))
        _revoke_open_codes(conn, before.subject, now)
        ctx.record(conn, op, "identity.delete", "identity", before.subject, reason=reason,
                   change=Change(before={"status": before.status},
                                 after={"status": "deleted",
                                        "reusable_after": reusable_after.isoformat()}))
        return load_detail(conn, before.subject)


def _deleted_subject(conn: Connection, key: str) -> str:
    """The deleted identity ``key`` names: a subject id, or the login ID it last held."""
    try:
        return str(uuid.UUID(key.strip()))
    except ValueError:
        pass
    login_id = normalise_email(key).login_id
    row = conn.execute(
        select(id_tombstone.c.subject).where(
            id_tombstone.c.login_id == login_id, id_tombstone.c.reason == "deleted",
            id_tombstone.c.closed_at.is_(None))
        .order_by(id_tombstone.c.deleted_at.desc(), id_tombstone.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No deleted identity held the login ID {login_id!r}.")
    return str(row)


def restore_identity(ctx: Context, op: Operator, key: str, *, reason: str = "") -> IdentityDetail:
    """Give a deleted identity back intact: its status, roles, password and MFA as they were."""
    now = ctx.now()
    with ctx.store.write() as conn:
        subject = _deleted_subject(conn, key)
        before = load_detail(conn, subject)
        require_manage(op, Action.IDENTITY_DELETE, before)
        if before.status != "deleted":
            raise InvalidInput(f"{before.login_id} is {before.status}, not deleted.")
        stone = conn.execute(
            select(id_tombstone).where(id_tombstone.c.subject == subject,
                                       id_tombstone.c.reason == "deleted",
                                       id_tombstone.c.closed_at.is_(None))
            .order_by(id_tombstone.c.id.desc()).limit(1)).one_or_none()
        if stone is not None and stone.claimed_by is not None:
            raise InvalidInput(
                f"{before.login_id} was given to a new identity on {stone.claimed_at:%Y-%m-%d}; "
                "this deleted identity can no longer be restored under it.")
        status = (stone.prior_status if stone is not None and stone.prior_status else
                  "active" if before.has_password else "reset_required")
        try:
            with conn.begin_nested():
                update_versioned(ctx, conn, subject, before.version, {"status": status})
        except IntegrityError:
            raise AlreadyExists(f"Someone else now holds the login ID {before.login_id!r}; "
                                "the deleted identity cannot be restored under it.") from None
        if stone is not None:
            conn.execute(update(id_tombstone).where(id_tombstone.c.id == stone.id)
                         .values(closed_at=now))
        ctx.record(conn, op, "identity.restore", "identity", subject, reason=reason,
                   change=Change(before={"status": "deleted"}, after={"status": status}))
        return load_detail(conn, subject)


@dataclass(frozen=True)
class ClaimPreview:
    """What an admin sees before giving a login ID to a new identity."""

    login_id: str
    previous: tuple[PreviousHolder, ...]
    held_now: bool  # a live identity holds it: nothing to claim
    reusable_after: datetime | None  # still cooling off until then

    @property
    def claimable(self) -> bool:
        return not self.held_now and self.reusable_after is None

    def as_dict(self) -> dict[str, object]:
        return {"login_id": self.login_id, "held_now": self.held_now,
                "claimable": self.claimable,
                "reusable_after": self.reusable_after.isoformat() if self.reusable_after
                else None,
                "previous_holders": [h.as_dict() for h in self.previous]}

    def warning(self) -> str:
        if self.held_now:
            return f"{self.login_id} belongs to a live identity; it cannot be claimed."
        if self.reusable_after is not None:
            return (f"{self.login_id} is cooling off until "
                    f"{self.reusable_after:%Y-%m-%d %H:%M} UTC.")
        if not self.previous:
            return f"{self.login_id} has never been held; add the identity as usual."
        return (f"{self.login_id} was previously held. "
                + " ".join(h.sentence() for h in self.previous)
                + " The new identity gets a new subject id and inherits nothing.")


def preview_claim(ctx: Context, op: Operator, email: str) -> ClaimPreview:
    require(op, Action.IDENTITY_CLAIM)
    login_id = normalise_email(email).login_id
    with ctx.store.read() as conn:
        return _preview(conn, login_id, ctx.now())


def _preview(conn: Connection, login_id: str, now: datetime) -> ClaimPreview:
    held = conn.execute(select(identity.c.subject).where(
        identity.c.login_id == login_id, identity.c.status != "deleted")).first() is not None
    return ClaimPreview(login_id=login_id, previous=tuple(previous_holders(conn, login_id)),
                        held_now=held, reusable_after=cooling_off_until(conn, login_id, now))


def claim_login_id(ctx: Context, op: Operator, email: str, given_name: str, family_name: str,
                   org_code: str, *, acknowledged: bool, allow_flagged: bool = False
                   ) -> IdentityDetail:
    """A new identity under a login ID whose previous holder was deleted and has cooled off.

    ``acknowledged`` says the admin was shown the previous holders (``preview_claim``).
    """
    require(op, Action.IDENTITY_CLAIM)
    address = normalise_email(email)
    if address.flagged and not allow_flagged:
        raise InvalidInput(f"{describe_flags(address)}. Check it with the person; if it is "
                           "right, confirm it explicitly (--allow-confusable).")
    given, family = clean_name(given_name, "given name"), clean_name(family_name, "family name")
    now = ctx.now()
    subject = str(uuid.uuid4())
    with ctx.store.write() as conn:
        org = org_by_code(conn, org_code)
        preview = _preview(conn, address.login_id, now)
        if preview.held_now:
            raise AlreadyExists(f"The login ID {address.login_id!r} belongs to a live identity; "
                                "open it instead.")
        if preview.reusable_after is not None:
            raise InvalidInput(f"The login ID {address.login_id!r} is cooling off until "
                               f"{preview.reusable_after:%Y-%m-%d %H:%M} UTC; restore the "
                               "deleted identity instead, or claim it after that.")
        if not preview.previous:
            raise InvalidInput(f"The login ID {address.login_id!r} has never been held; add "
                               "the identity with: python main.py users add.")
        if not acknowledged:
            raise InvalidInput(preview.warning() + " Confirm that you have read this "
                               "(--yes) to go on.")
        try:
            with conn.begin_nested():
                conn.execute(insert(identity).values(
                    subject=subject, login_id=address.login_id, email=address.email,
                    given_name=given, family_name=family, organisation_id=org.id,
                    status="reset_required", password_hash=None, flags=",".join(address.flags),
                    version=1, created_at=now, updated_at=now))
        except IntegrityError:
            raise AlreadyExists(f"Someone else claimed {address.login_id!r} a moment ago; "
                                "reload to see who holds it now.") from None
        conn.execute(update(id_tombstone).where(
            id_tombstone.c.login_id == address.login_id, id_tombstone.c.closed_at.is_(None),
            id_tombstone.c.claimed_by.is_(None)).values(claimed_by=subject, claimed_at=now))
        ctx.record(conn, op, "identity.claim", "identity", subject, change=Change(
            before={"previous_holders": [h.subject for h in preview.previous]},
            after={"login_id": address.login_id, "given_name": given, "family_name": family,
                   "organisation": org.code, "status": "reset_required"}))
        return load_detail(conn, subject)
