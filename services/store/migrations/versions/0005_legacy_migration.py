"""legacy migration: runs, batches, legacy accounts, migrated identities

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa
import services.store.schema


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('migration_run',
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('plan_digest', sa.String(length=64), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('source_name', sa.String(length=255), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('signed_off_by', sa.String(length=320), nullable=False),
    sa.Column('signed_off_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('total_batches', sa.Integer(), nullable=False),
    sa.Column('total_identities', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=320), nullable=False),
    sa.Column('started_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.CheckConstraint("status IN ('running','cancelled','done')", name=op.f('ck_migration_run_status_known')),
    sa.PrimaryKeyConstraint('plan_id', name=op.f('pk_migration_run'))
    )
    op.create_table('migration_batch',
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('batch_no', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('first_identity', sa.Integer(), nullable=False),
    sa.Column('identities', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('linked', sa.Integer(), nullable=False),
    sa.Column('merged', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('started_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('audit_event_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['migration_run.plan_id'], name=op.f('fk_migration_batch_plan_id_migration_run')),
    sa.PrimaryKeyConstraint('plan_id', 'batch_no', name=op.f('pk_migration_batch'))
    )
    op.create_table('legacy_account',
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('legacy_id', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=36), nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('source_row', sa.Integer(), nullable=False),
    sa.Column('legacy_login', sa.String(length=320), nullable=False),
    sa.Column('legacy_status', sa.String(length=16), nullable=False),
    sa.Column('migrated_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['migration_run.plan_id'], name=op.f('fk_legacy_account_plan_id_migration_run')),
    sa.ForeignKeyConstraint(['subject'], ['identity.subject'], name=op.f('fk_legacy_account_subject_identity')),
    sa.PrimaryKeyConstraint('system', 'legacy_id', name=op.f('pk_legacy_account'))
    )
    with op.batch_alter_table('legacy_account', schema=None) as batch_op:
        batch_op.create_index('ix_legacy_account_subject', ['subject'], unique=False)

    op.create_table('migration_identity',
    sa.Column('subject', sa.String(length=36), nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('batch_no', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('size_band', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('requires_mfa', sa.Boolean(), nullable=False),
    sa.Column('reset_token_id', sa.Integer(), nullable=True),
    sa.Column('notice_outbox_id', sa.Integer(), nullable=True),
    sa.Column('migrated_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reminders', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('last_reminded_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.CheckConstraint("outcome IN ('created','linked')", name=op.f('ck_migration_identity_outcome_known')),
    sa.CheckConstraint("size_band IN ('large','medium','small')", name=op.f('ck_migration_identity_size_band_known')),
    sa.ForeignKeyConstraint(['notice_outbox_id'], ['outbox.id'], name=op.f('fk_migration_identity_notice_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_migration_identity_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['plan_id'], ['migration_run.plan_id'], name=op.f('fk_migration_identity_plan_id_migration_run')),
    sa.ForeignKeyConstraint(['reset_token_id'], ['reset_token.id'], name=op.f('fk_migration_identity_reset_token_id_reset_token')),
    sa.ForeignKeyConstraint(['subject'], ['identity.subject'], name=op.f('fk_migration_identity_subject_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subject', name=op.f('pk_migration_identity')),
    sa.UniqueConstraint('notice_outbox_id', name=op.f('uq_migration_identity_notice_outbox_id')),
    sa.UniqueConstraint('reset_token_id', name=op.f('uq_migration_identity_reset_token_id'))
    )
    with op.batch_alter_table('migration_identity', schema=None) as batch_op:
        batch_op.create_index('ix_migration_identity_org_band', ['organisation_id', 'size_band'], unique=False)
        batch_op.create_index('ix_migration_identity_plan_batch', ['plan_id', 'batch_no'], unique=False)


def downgrade() -> None:
    op.drop_table('migration_identity')
    op.drop_table('legacy_account')
    op.drop_table('migration_batch')
    op.drop_table('migration_run')
