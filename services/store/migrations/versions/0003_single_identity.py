"""single identity: merged aliases, profile fields, tombstone reasons, merge records, e-mail
change tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa
import services.store.schema


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_LIVE = sa.text("status <> 'deleted'")


def upgrade() -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table (the "generalized
    # ALTER TABLE procedure"; services.store.migrate turns foreign keys off around it and runs
    # foreign_key_check afterwards). The partial index is dropped and made again explicitly,
    # since a rebuild does not carry its WHERE clause on every SQLAlchemy version.
    with op.batch_alter_table('identity', schema=None) as batch_op:
        batch_op.drop_index('uq_identity_login_id_live', sqlite_where=_LIVE,
                            postgresql_where=_LIVE)
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('job_title', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('merged_into', sa.String(length=36), nullable=True))
        batch_op.drop_constraint(op.f('ck_identity_status_known'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_identity_status_known'),
            "status IN ('active','reset_required','locked','disabled','deleted','merged')")
        batch_op.create_check_constraint(
            op.f('ck_identity_merged_has_survivor'),
            "(status = 'merged') = (merged_into IS NOT NULL)")
    with op.batch_alter_table('identity', schema=None) as batch_op:
        batch_op.create_index('uq_identity_login_id_live', ['login_id'], unique=True,
                              sqlite_where=_LIVE, postgresql_where=_LIVE)
        batch_op.create_index('ix_identity_merged_into', ['merged_into'], unique=False)

    with op.batch_alter_table('id_tombstone', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=16),
                                      server_default=sa.text("'deleted'"), nullable=False))
        batch_op.add_column(sa.Column('prior_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('closed_at', services.store.schema.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', services.store.schema.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(op.f('ck_id_tombstone_reason_known'),
                                         "reason IN ('deleted','email_changed')")

    op.create_table('merge_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('survivor', sa.String(length=36), nullable=False),
    sa.Column('absorbed', sa.Text(), nullable=False),
    sa.Column('before_state', sa.Text(), nullable=False),
    sa.Column('merged_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('merged_by', sa.String(length=320), nullable=False),
    sa.Column('unmerged_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unmerged_by', sa.String(length=320), nullable=True),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.ForeignKeyConstraint(['survivor'], ['identity.subject'], name=op.f('fk_merge_record_survivor_identity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merge_record')),
    sa.UniqueConstraint('event_id', name=op.f('uq_merge_record_event_id'))
    )
    with op.batch_alter_table('merge_record', schema=None) as batch_op:
        batch_op.create_index('ix_merge_record_survivor', ['survivor'], unique=False)

    op.create_table('email_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=36), nullable=False),
    sa.Column('new_login_id', sa.String(length=320), nullable=False),
    sa.Column('new_email', sa.String(length=320), nullable=False),
    sa.Column('created_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', services.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', services.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['subject'], ['identity.subject'], name=op.f('fk_email_change_subject_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_change')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_email_change_token_hash'))
    )
    with op.batch_alter_table('email_change', schema=None) as batch_op:
        batch_op.create_index('ix_email_change_subject', ['subject'], unique=False)


def downgrade() -> None:
    op.drop_table('email_change')
    op.drop_table('merge_record')
    with op.batch_alter_table('id_tombstone', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_id_tombstone_reason_known'), type_='check')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('prior_status')
        batch_op.drop_column('reason')
    with op.batch_alter_table('identity', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_merged_into')
        batch_op.drop_index('uq_identity_login_id_live', sqlite_where=_LIVE,
                            postgresql_where=_LIVE)
        batch_op.drop_constraint(op.f('ck_identity_merged_has_survivor'), type_='check')
        batch_op.drop_constraint(op.f('ck_identity_status_known'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_identity_status_known'),
            "status IN ('active','reset_required','locked','disabled','deleted')")
        batch_op.drop_column('merged_into')
        batch_op.drop_column('job_title')
        batch_op.drop_column('phone')
    with op.batch_alter_table('identity', schema=None) as batch_op:
        batch_op.create_index('uq_identity_login_id_live', ['login_id'], unique=True,
                              sqlite_where=_LIVE, postgresql_where=_LIVE)
