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

MFA_CREDENTIAL_STATUSES = ("pending", "active", "retired")

# A TOTP authenticator. The seed is sealed by the vault (context "mfa-seed:<subject>") and only
# decrypted to verify a code; last_step is the time step of the last accepted code, and no code
# of that step or an earlier one is accepted again (RFC 6238 s5.2; FreeIPA's watermark).
mfa_credential = Table(
    "mfa_credential",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("seed_sealed", Text, nullable=False),
    Column("algorithm", String(8), nullable=False),
    Column("digits", Integer, nullable=False),
    Column("period", Integer, nullable=False),
    Column("last_step", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("retired_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("status IN ('pending','active','retired')", name="status_known"),
    CheckConstraint("algorithm IN ('SHA1','SHA256','SHA512')", name="algorithm_known"),
    # At most one authenticator in use and one being enrolled per identity, by the database.
    Index("uq_mfa_credential_active", "subject", unique=True,
          sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    Index("uq_mfa_credential_pending", "subject", unique=True,
          sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
)

# Per identity: the enrolment deadline, and the failure counter shared by every session and
# process (ASVS 6.5 / NIST 800-63B 5.2.2), with the lockout count that makes the pause grow.
mfa_account = Table(
    "mfa_account",
    metadata,
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), primary_key=True),
    Column("enrol_by", UTCDateTime, nullable=True),
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("lockouts", Integer, nullable=False, server_default=text("0")),
    Column("reset_at", UTCDateTime, nullable=True),  # last admin reset (lost device)
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
)

# Recovery codes: only a keyed HMAC of each is stored; each works once.
recovery_code = Table(
    "recovery_code",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), nullable=False),
    Column("credential_id", ForeignKey("mfa_credential.id", ondelete="CASCADE"),
           nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_recovery_code_subject", "subject"),
)

# An enrolment campaign: a platform admin requires a population to enrol by a date.
mfa_campaign = Table(
    "mfa_campaign",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("role", String(32), nullable=False),
    Column("org_codes", Text, nullable=False),  # JSON list; empty: every organisation
    Column("enrol_by", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
)

mfa_campaign_target = Table(
    "mfa_campaign_target",
    metadata,
    Column("campaign_id", ForeignKey("mfa_campaign.id", ondelete="CASCADE"), primary_key=True),
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
    Column("reminded_at", UTCDateTime, nullable=True),
    Index("ix_mfa_campaign_target_subject", "subject"),
)

# A command-line session (python main.py signin): a TOTP code works once, so a script signs in
# once and passes the token on. Only the token's SHA-256 is kept; it expires.
cli_session = Table(
    "cli_session",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), nullable=False),
    Column("mfa_verified", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index("ix_cli_session_subject", "subject"),
)

# ---- legacy migration (migration 0005) ------------------------------------------------------

MIGRATION_RUN_STATUSES = ("running", "cancelled", "done")
MIGRATION_OUTCOMES = ("created", "linked")

# One row per signed-off plan that a run has started. The plan file stays the record of what
# was decided; this row pins it (plan digest, source SHA-256) so that a resumed run refuses a
# different plan under the same id, and says how far the run is.
migration_run = Table(
    "migration_run",
    metadata,
    Column("plan_id", String(36), primary_key=True),
    Column("plan_digest", String(64), nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("source_name", String(255), nullable=False),
    Column("system", String(64), nullable=False),  # the legacy system (policy ``system``)
    Column("signed_off_by", String(320), nullable=False),
    Column("signed_off_at", UTCDateTime, nullable=False),
    Column("batch_size", Integer, nullable=False),
    Column("total_batches", Integer, nullable=False),
    Column("total_identities", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_by", String(320), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("status IN ('running','cancelled','done')", name="status_known"),
)

# One row per completed batch, written in the batch's own transaction: a batch is done exactly
# when its row exists, so a run killed at any moment resumes at the first batch without one.
# Batch n covers identities [first_identity, first_identity + identities) in the plan's
# derivation order.
migration_batch = Table(
    "migration_batch",
    metadata,
    Column("plan_id", ForeignKey("migration_run.plan_id"), primary_key=True),
    Column("batch_no", Integer, primary_key=True, autoincrement=False),
    Column("first_identity", Integer, nullable=False),
    Column("identities", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("linked", Integer, nullable=False),  # legacy rows added to an existing identity
    Column("merged", Integer, nullable=False),  # confirmed merges applied
    Column("skipped", Integer, nullable=False),  # already migrated, or a collision left alone
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("audit_event_id", String(36), nullable=False),  # the batch's audit event
)

# Legacy account → the identity it became. The primary key makes a run idempotent: a legacy
# id already here is skipped, whichever run or plan put it there.
legacy_account = Table(
    "legacy_account",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("legacy_id", String(64), primary_key=True),
    Column("subject", ForeignKey("identity.subject"), nullable=False),
    Column("plan_id", ForeignKey("migration_run.plan_id"), nullable=False),
    Column("source_row", Integer, nullable=False),
    Column("legacy_login", String(320), nullable=False),  # the row's login ID, normalised
    Column("legacy_status", String(16), nullable=False),  # active | disabled, as mapped
    Column("migrated_at", UTCDateTime, nullable=False),
    Index("ix_legacy_account_subject", "subject"),
)

# One row per identity a migration created (or linked legacy accounts to): what progress to
# completion is tracked by, per organisation and size band, and where the one outstanding
# migration reset token and the one notification are recorded. Both are unique: a resumed or
# repeated run cannot issue a second token or queue a second e-mail for the same identity; a
# reminder replaces ``reset_token_id`` (revoking the old token) in one transaction.
migration_identity = Table(
    "migration_identity",
    metadata,
    Column("subject", ForeignKey("identity.subject", ondelete="CASCADE"), primary_key=True),
    Column("plan_id", ForeignKey("migration_run.plan_id"), nullable=False),
    Column("batch_no", Integer, nullable=False),
    Column("organisation_id", ForeignKey("organisation.id"), nullable=False),
    Column("size_band", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("requires_mfa", Boolean, nullable=False),  # an LSO: must enrol MFA
    Column("reset_token_id", ForeignKey("reset_token.id"), nullable=True, unique=True),
    Column("notice_outbox_id", ForeignKey("outbox.id"), nullable=True, unique=True),
    Column("migrated_at", UTCDateTime, nullable=False),
    Column("reminders", Integer, nullable=False, server_default=text("0")),
    Column("last_reminded_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("outcome IN ('created','linked')", name="outcome_known"),
    CheckConstraint("size_band IN ('large','medium','small')", name="size_band_known"),
    Index("ix_migration_identity_org_band", "organisation_id", "size_band"),
    Index("ix_migration_identity_plan_batch", "plan_id", "batch_no"),
)
