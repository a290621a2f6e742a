"""mfa: TOTP credentials, per-identity counters and deadlines, recovery codes, campaigns,
command-line sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa
import services.store.schema


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_ACTIVE = sa.text("status = 'active'")
_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table('mfa_credential',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('seed_sealed', sa.Text(), nullable=False),
    sa.Column('algorithm', sa.String(length=8), nullable=False),
    sa.Column('digits', sa.Integer(), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.Column('created_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.CheckConstraint("status IN ('pending','active','retired')", name=op.f('ck_mfa_credential_status_known')),
    sa.CheckConstraint("algorithm IN ('SHA1','SHA256','SHA512')", name=op.f('ck_mfa_credential_algorithm_known')),
    sa.ForeignKeyConstraint(['subject'], ['identity.subject'], name=op.f('fk_mfa_credential_subject_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_credential'))
    )
    with op.batch_alter_table('mfa_credential', schema=None) as batch_op:
        batch_op.create_index('uq_mfa_credential_active', ['subject'], unique=True,
                              sqlite_where=_ACTIVE, postgresql_where=_ACTIVE)
        batch_op.create_index('uq_mfa_credential_pending', ['subject'], unique=True,
                              sqlite_where=_PENDING, postgresql_where=_PENDING)

    op.create_table('mfa_account',
    sa.Column('subject', sa.String(length=36), nullable=False),
    sa.Column('enrol_by', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('locked_until', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lockouts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('reset_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.ForeignKeyConstraint(['subject'], ['identity.subject'], name=op.f('fk_mfa_account_subject_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subject', name=op.f('pk_mfa_account'))
    )

    op.create_table('recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=36), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['credential_id'], ['mfa_credential.id'], name=op.f('fk_recovery_code_credential_id_mfa_credential'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject'], ['identity.subject'], name=op.f('fk_recovery_code_subject_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_recovery_code_code_hash'))
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index('ix_recovery_code_subject', ['subject'], unique=False)

    op.create_table('mfa_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('org_codes', sa.Text(), nullable=False),
    sa.Column('enrol_by', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_campaign'))
    )

    op.create_table('mfa_campaign_target',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=36), nullable=False),
    sa.Column('added_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reminded_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['mfa_campaign.id'], name=op.f('fk_mfa_campaign_target_campaign_id_mfa_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject'], ['identity.subject'], name=op.f('fk_mfa_campaign_target_subject_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'subject', name=op.f('pk_mfa_campaign_target'))
    )
    with op.batch_alter_table('mfa_campaign_target', schema=None) as batch_op:
        batch_op.create_index('ix_mfa_campaign_target_subject', ['subject'], unique=False)

    op.create_table('cli_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=36), nullable=False),
    sa.Column('mfa_verified', sa.Boolean(), nullable=False),
    sa.Column('created_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subject'], ['identity.subject'], name=op.f('fk_cli_session_subject_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cli_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_cli_session_token_hash'))
    )
    with op.batch_alter_table('cli_session', schema=None) as batch_op:
        batch_op.create_index('ix_cli_session_subject', ['subject'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cli_session', schema=None) as batch_op:
        batch_op.drop_index('ix_cli_session_subject')
    op.drop_table('cli_session')
    with op.batch_alter_table('mfa_campaign_target', schema=None) as batch_op:
        batch_op.drop_index('ix_mfa_campaign_target_subject')
    op.drop_table('mfa_campaign_target')
    op.drop_table('mfa_campaign')
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index('ix_recovery_code_subject')
    op.drop_table('recovery_code')
    op.drop_table('mfa_account')
    with op.batch_alter_table('mfa_credential', schema=None) as batch_op:
        batch_op.drop_index('uq_mfa_credential_pending', sqlite_where=_PENDING,
                            postgresql_where=_PENDING)
        batch_op.drop_index('uq_mfa_credential_active', sqlite_where=_ACTIVE,
                            postgresql_where=_ACTIVE)
    op.drop_table('mfa_credential')
