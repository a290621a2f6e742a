"""Profile details: people correct their own, LSOs those of their organisation's people.

Which fields each may edit is declared in ``policies/identity.toml`` ([profile]), like
Keycloak's user-profile attribute permissions. Changing the e-mail changes the login ID: the
new address must be confirmed with a single-use code sent to it, the subject id stays, and
the old ID is tombstoned for the cooling-off so nobody else takes it at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.audit import Change
from services.authz import Action, Operator, Role
from services.context import Context
from services.errors import AlreadyExists, Conflict, InvalidInput, PermissionDenied
from services.identity import describe_flags, normalise_email
from services.store.schema import email_change, id_tombstone, identity
from services.tombstones import refuse_if_cooling_off
from services.users import (
    IdentityDetail,
    clean_name,
    find_subject,
    load_detail,
    require_manage,
    update_versioned,
)

TOKEN_BYTES = 32  # 256 bits, like reset codes
FIELD_LABELS = {"given_name": "given name", "family_name": "family name", "phone": "phone",
                "job_title": "job title", "email": "e-mail"}
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{6,30}$")
UNUSABLE_CODE = ("This confirmation code is not valid: it has expired, was already used, or "
                 "was replaced by a newer one. Ask for the change again.")


def editable_fields(ctx: Context, op: Operator, target: IdentityDetail) -> frozenset[str]:
    """The fields ``op`` may change on ``target`` (empty when they may change none)."""
    rules = ctx.identity_policy.profile_editable
    fields: set[str] = set()
    if target.status in ("deleted", "merged"):
        return frozenset()
    if target.subject == op.subject:
        fields |= rules.get("self", frozenset())
    if Role.PLATFORM_ADMIN in op.roles:
        fields |= rules.get("platform_admin", frozenset())
    elif Role.LSO in op.roles and target.organisation_id == op.organisation_id \
            and target.subject != op.subject \
            and not target.tool_roles & {Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER}:
        # As require_manage: an LSO never edits an admin or reviewer of their organisation.
        fields |= rules.get("lso", frozenset())
    return frozenset(fields)


def _clean_phone(value: str) -> str | None:
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if not text:
        return None
    if not _PHONE.match(text) or sum(ch.isdigit() for ch in text) < 6:
        raise InvalidInput(f"{text!r} is not a phone number; use digits, spaces and an "
                           "optional leading +, e.g. +44 121 623 2000.")
    return text


def _clean_title(value: str) -> str | None:
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        return None
    return clean_name(text, "job title")


def _cleaned(changes: Mapping[str, str]) -> dict[str, str | None]:
    cleaned: dict[str, str | None] = {}
    for name, value in changes.items():
        if name in ("given_name", "family_name"):
            cleaned[name] = clean_name(value, FIELD_LABELS[name])
        elif name == "phone":
            cleaned[name] = _clean_phone(value)
        elif name == "job_title":
            cleaned[name] = _clean_title(value)
        elif name == "email":
            raise InvalidInput("The e-mail is the login ID: change it with a confirmed e-mail "
                               "change (profile change-email), not as a plain edit.")
        else:
            raise InvalidInput(f"There is no profile field {name!r}; the fields are "
                               f"{', '.join(FIELD_LABELS)}.")
    return cleaned


def update_profile(ctx: Context, op: Operator, key: str, changes: Mapping[str, str], *,
                   expected_version: int | None = None) -> IdentityDetail:
    """Change profile fields; only those ``op`` may edit, and only if nobody changed the
    identity since ``expected_version`` was read."""
    cleaned = _cleaned(changes)
    if not cleaned:
        raise InvalidInput("Nothing to change: give at least one field.")
    with ctx.store.write() as conn:
        before = load_detail(conn, find_subject(conn, key))
        if expected_version is not None and before.version != expected_version:
            raise Conflict("This identity")
        if before.subject != op.subject:
            # Changing someone else's details is an admin's or LSO's act (and so needs their
            # second factor); the field table below then narrows what they may touch.
            require_manage(op, Action.IDENTITY_UPDATE, before)
        allowed_fields = editable_fields(ctx, op, before)
        refused = sorted(set(cleaned) - allowed_fields)
        if refused:
            names = ", ".join(FIELD_LABELS[f] for f in refused)
            raise PermissionDenied(f"Your role may not change the {names} of "
                                   f"{before.login_id}; ask a platform admin.")
        old = {name: getattr(before, name) for name in cleaned}
        changed = {name: value for name, value in cleaned.items() if old[name] != value}
        if not changed:
            return before
        update_versioned(ctx, conn, before.subject,
                         before.version if expected_version is None else expected_version,
                         dict(changed))
        ctx.record(conn, op, "profile.update", "identity", before.subject, change=Change(
            before={name: old[name] for name in changed}, after=dict(changed)))
        return load_detail(conn, before.subject)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _refuse_taken(conn: Connection, login_id: str, now_subject: str) -> None:
    holder = conn.execute(select(identity.c.subject).where(
        identity.c.login_id == login_id, identity.c.status != "deleted")).scalar_one_or_none()
    if holder is not None and holder != now_subject:
        raise AlreadyExists(f"The login ID {login_id!r} already belongs to another identity; "
                            "if both are one person, merge them instead.")


@dataclass(frozen=True)
class EmailChangeRequest:
    subject: str
    new_login_id: str
    expires_at: str  # ISO 8601 UTC


def request_email_change(ctx: Context, op: Operator, key: str, new_email: str, *,
                         allow_flagged: bool = False) -> tuple[EmailChangeRequest, str]:
    """Start a change of login ID; a single-use code goes to the new address.

    Returns the request and the code (for the mail pipeline and tests: never show it to an
    operator). The stored address is told too, so a change nobody asked for is noticed.
    """
    from services.mail.outbox import enqueue

    address = normalise_email(new_email)
    if address.flagged and not allow_flagged:
        raise InvalidInput(f"{describe_flags(address)}. Check it with the person; if it is "
                           "right, confirm it explicitly (--allow-confusable).")
    now = ctx.now()
    with ctx.store.write() as conn:
        before = load_detail(conn, find_subject(conn, key))
        if before.subject != op.subject:
            require_manage(op, Action.IDENTITY_UPDATE, before)
        if "email" not in editable_fields(ctx, op, before):
            raise PermissionDenied(f"Your role may not change the e-mail of {before.login_id}; "
                                   "ask your local security officer or a platform admin.")
        if address.login_id == before.login_id:
            raise InvalidInput(f"{before.login_id} already has that address.")
        _refuse_taken(conn, address.login_id, before.subject)
        refuse_if_cooling_off(conn, address.login_id, now)
        # One outstanding change per identity: a newer request replaces the older code.
        conn.execute(update(email_change).where(
            email_change.c.subject == before.subject, email_change.c.used_at.is_(None),
            email_change.c.revoked_at.is_(None)).values(revoked_at=now))
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires = now + ctx.identity_policy.email_change_expiry
        conn.execute(insert(email_change).values(
            token_hash=_token_hash(token), subject=before.subject,
            new_login_id=address.login_id, new_email=address.email, created_at=now,
            expires_at=expires, created_by=op.login_id))
        # The new address is not stored yet: that is what the code proves.
        enqueue(ctx, conn, kind="email_change", to_address=address.email, identity_subject=None,
                values={"given_name": before.given_name, "token": token,
                        "expires_at": expires.strftime("%Y-%m-%d %H:%M UTC")})
        enqueue(ctx, conn, kind="email_change_notice", to_address=before.email,
                identity_subject=before.subject,
                values={"given_name": before.given_name, "new_email": address.email})
        ctx.record(conn, op, "profile.email_change_requested", "identity", before.subject,
                   change=Change(before={"login_id": before.login_id},
                                 after={"login_id": address.login_id,
                                        "expires_at": expires.isoformat()}))
    return EmailChangeRequest(before.subject, address.login_id, expires.isoformat()), token


def confirm_email_change(ctx: Context, token: str) -> IdentityDetail:
    """Apply a change of login ID whose code came back from the new address."""
    now = ctx.now()
    with ctx.store.write() as conn:
        row = conn.execute(select(email_change).where(
            email_change.c.token_hash == _token_hash(token))).one_or_none()
        if row is None or row.used_at is not None or row.revoked_at is not None \
                or row.expires_at <= now:
            raise InvalidInput(UNUSABLE_CODE)
        before = load_detail(conn, row.subject)
        if before.status in ("deleted", "merged", "disabled"):
            raise InvalidInput(f"{before.login_id} is {before.status}; the e-mail change was "
                               "not applied.")
        _refuse_taken(conn, row.new_login_id, before.subject)
        refuse_if_cooling_off(conn, row.new_login_id, now)
        try:
            with conn.begin_nested():
                update_versioned(ctx, conn, before.subject, before.version,
                                 {"login_id": row.new_login_id, "email": row.new_email})
        except IntegrityError:
            raise AlreadyExists(f"The login ID {row.new_login_id!r} was taken a moment ago; "
                                "ask for the change again with another address.") from None
        conn.execute(update(email_change).where(email_change.c.id == row.id)
                     .values(used_at=now))
        conn.execute(insert(id_tombstone).values(
            login_id=before.login_id, subject=before.subject, deleted_at=now,
            reusable_after=now + ctx.identity_policy.reuse_cooling_off,
            reason="email_changed"))
        ctx.audit.append(conn, at=now, actor=row.new_login_id, action="profile.email_change",
                         target_type="identity", target_id=before.subject,
                         change=Change(before={"login_id": before.login_id,
                                               "email": before.email},
                                       after={"login_id": row.new_login_id,
                                              "email": row.new_email}))
        return load_detail(conn, before.subject)
