"""The store's tables (SQLAlchemy Core). Alembic migrations under ``migrations/`` create them.

Every mutable row carries ``version`` for optimistic locking (DESIGN.md, Data).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out on both backends (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use the injected UTC clock")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ORG_TYPES = ("shipper", "supplier", "gt", "igt", "cdsp", "other")
# "merged": an absorbed account kept as an alias of the identity it was merged into, so that
# old references, audit events and legacy ids still resolve (migration 0003).
IDENTITY_STATUSES = ("active", "reset_required", "locked", "disabled", "deleted", "merged")

# The products every store starts with: (code, name, roles it grants). GATEHOUSE carries the
# roles of this tool itself, so that they merge and migrate like any other entitlement.
PRODUCTS = (
    ("DES", "Data Enquiry Service", ["viewer", "standard"]),
    ("UKLINK", "UK Link portal", ["viewer", "standard", "submitter"]),
    ("APIDEV", "API developer portal", ["developer"]),
    ("GATEHOUSE", "Gatehouse", ["platform_admin", "lso", "security_reviewer"]),
)
TOOL_PRODUCT = "GATEHOUSE"

GENESIS_HASH = "0" * 64

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

organisation = Table(
    "organisation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(16), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("type", String(16), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "type IN ('shipper','supplier','gt','igt','cdsp','other')", name="type_known"
    ),
)

product = Table(
    "product",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(16), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    # JSON list of the role names this product grants.
    Column("roles", Text, nullable=False),
)

identity = Table(
    "identity",
    metadata,
    Column("subject", String(36), primary_key=True),  # UUID, never reissued
    Column("login_id", String(320), nullable=False),  # normalised email
    Column("email", String(320), nullable=False),  # as entered; mail goes here
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("organisation_id", ForeignKey("organisation.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("password_hash", String(512), nullable=True),
    Column("flags", Text, nullable=False, server_default=text("''")),  # e.g. "confusable"
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=True),  # migration 0002
    # migration 0003: self-service profile fields, and the survivor of a merged alias.
    Column("phone", String(40), nullable=True),
    Column("job_title", String(200), nullable=True),
    Column("merged_into", String(36), nullable=True),
    CheckConstraint(
        "status IN ('active','reset_required','locked','disabled','deleted','merged')",
        name="status_known",
    ),
    CheckConstraint("(status = 'merged') = (merged_into IS NOT NULL)", name="merged_has_survivor"),
    # One non-deleted identity per login ID, enforced by the database (ASVS 15.4.2). A merged
    # alias keeps its ID, so an unmerge can always give it back.
    Index(
        "uq_identity_login_id_live",
        "login_id",
        unique=True,
        sqlite_where=text("status <> 'deleted'"),
        postgresql_where=text("status <> 'deleted'"),
    ),
    Index("ix_identity_org", "organisation_id"),
    Index("ix_identity_family_given", "family_name", "given_name"),
    Index("ix_identity_merged_into", "merged_into"),
)

entitlement = Table(
    "entitlement",
    metadata,
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), primary_key=True),
    Column("product_id", ForeignKey("product.id"), primary_key=True),
    Column("role", String(64), primary_key=True),
    Column("granted_at", UTCDateTime, nullable=False),
)

login_attempt = Table(
    "login_attempt",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login_id", String(320), nullable=False),
    Column("subject", String(36), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("reason", String(64), nullable=False),
    Index("ix_login_attempt_login_at", "login_id", "at"),
)

# Failure counter per normalised login ID, for existing and unknown IDs alike, so that a lock
# says nothing about whether the account exists and case variants share one counter.
signin_throttle = Table(
    "signin_throttle",
    metadata,
    Column("login_id", String(320), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

terms_acceptance = Table(
    "terms_acceptance",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), nullable=False),
    Column("terms_version", String(32), nullable=False),
    Column("accepted_at", UTCDateTime, nullable=False),
    UniqueConstraint("subject", "terms_version"),
)

TOMBSTONE_REASONS = ("deleted", "email_changed")

# A login ID given up — by deletion or an e-mail change — and when another identity may claim
# it. The subject that held it is kept so the next holder's admin is told (OIDC: an e-mail may
# be reused, a subject id never). Restoring a deleted identity closes its tombstone; a claim
# records who took the ID.
id_tombstone = Table(
    "id_tombstone",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login_id", String(320), nullable=False, index=True),
    Column("subject", String(36), nullable=False),
    Column("deleted_at", UTCDateTime, nullable=False),
    Column("reusable_after", UTCDateTime, nullable=False),
    # migration 0003
    Column("reason", String(16), nullable=False, server_default=text("'deleted'")),
    Column("prior_status", String(20), nullable=True),  # what a restore gives back
    Column("closed_at", UTCDateTime, nullable=True),  # restored: the ID went back to its holder
    Column("claimed_by", String(36), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    CheckConstraint("reason IN ('deleted','email_changed')", name="reason_known"),
)

# Secrets at rest, AES-GCM under the vault's master key (ciphertext carries the key id).
secret = Table(
    "secret",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

audit_event = Table(
    "audit_event",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(320), nullable=False),
    Column("result", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("before", Text, nullable=False),  # canonical JSON of changed fields
    Column("after", Text, nullable=False),
    Column("correlation_id", String(36), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row: the head of the audit chain. Appenders lock it so the chain stays linear.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

# ---- passwords, resets, mail (migration 0002) ----------------------------------------------

password_history = Table(
    "password_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), nullable=False),
    Column("password_hash", String(512), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_password_history_subject_created", "subject", "created_at"),
)

RESET_PURPOSES = ("migration", "self_service", "admin")

# Only the SHA-256 of a token is stored; the token itself exists in the mail sent and nowhere
# else (OWASP Forgot Password cheat sheet).
reset_token = Table(
    "reset_token",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("created_by", String(320), nullable=False),
    CheckConstraint("purpose IN ('migration','self_service','admin')", name="purpose_known"),
    Index("ix_reset_token_subject", "subject"),
)

# Self-service reset requests per normalised address, for rate limiting (existing or not).
reset_request = Table(
    "reset_request",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login_id", String(320), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("outcome", String(32), nullable=False),
    Index("ix_reset_request_login_at", "login_id", "at"),
)

# Every message the product sends, written in the same transaction as the change causing it.
# The body may carry a reset link, so it is sealed by the vault (context "outbox-body").
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),  # template name
    Column("to_address", String(320), nullable=False),  # the stored address, never a typed one
    Column("subject_line", String(300), nullable=False),
    Column("body_sealed", Text, nullable=False),
    Column("identity_subject", String(36), nullable=True),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("message_id", String(300), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("status IN ('pending','sent','failed')", name="status_known"),
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
)

INTAKE_STATUSES = ("pending", "approved", "rejected")

# DES ACCESS mailbox intake: every message read is kept, matched or not, with its flags.
intake_message = Table(
    "intake_message",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("source", Text, nullable=False),  # file, mbox index or Maildir key it came from
    Column("message_id", String(998), nullable=True),
    Column("from_address", String(320), nullable=True),
    Column("subject_line", Text, nullable=True),
    Column("matched_subject", String(36), nullable=True),
    Column("flags", Text, nullable=False, server_default=text("''")),  # unmatched,duplicate,...
    Column("parse_error", Text, nullable=True),
    Column("raw_sha256", String(64), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("decided_by", String(320), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("status IN ('pending','approved','rejected')", name="status_known"),
    Index("ix_intake_message_raw_sha256", "raw_sha256"),
)


# ---- single identity: merge, e-mail change (migration 0003) --------------------------------

# One applied merge: the survivor, the absorbed subjects and their full state before it, so
# that an unmerge splits them back exactly. The audit event of the merge carries the same
# before state (it holds no secret: no password hash, token or seed).
merge_record = Table(
    "merge_record",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(36), nullable=False, unique=True),  # the audit event's id
    Column("survivor", ForeignKey("identity.subject"), nullable=False),
    Column("absorbed", Text, nullable=False),  # JSON list of subjects
    Column("before_state", Text, nullable=False),  # canonical JSON
    Column("merged_at", UTCDateTime, nullable=False),
    Column("merged_by", String(320), nullable=False),
    Column("unmerged_at", UTCDateTime, nullable=True),
    Column("unmerged_by", String(320), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Index("ix_merge_record_survivor", "survivor"),
)

# A pending change of login ID: confirmed by a token mailed to the new address (only its
# SHA-256 is kept, like reset tokens).
email_change = Table(
    "email_change",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), nullable=False),
    Column("new_login_id", String(320), nullable=False),
    Column("new_email", String(320), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("created_by", String(320), nullable=False),
    Index("ix_email_change_subject", "subject"),
)

# ---- MFA (migration 0004) -------------------------------------------------------------------

# ---- legacy migration (migration 0005) ------------------------------------------------------
