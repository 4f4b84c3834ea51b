"""lifecycle: programs, double opt-in, consent evidence, DNC, imports

Revision ID: 0007_lifecycle
Revises: 0005_router
Create Date: 2026-11-27 00:21:18.445237
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0007_lifecycle'
down_revision = '0005_router'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dnc_entry',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('added_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'phone', name=op.f('pk_dnc_entry'))
    )
    op.create_table('import_job',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=300), nullable=False),
    sa.Column('program_id', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_valid', sa.Integer(), nullable=False),
    sa.Column('rows_applied', sa.Integer(), nullable=False),
    sa.Column('rows_unchanged', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_job'))
    )
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_job_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('import_row_error',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_row_error'))
    )
    with op.batch_alter_table('import_row_error', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_row_error_job_id'), ['job_id'], unique=False)

    op.create_table('opt_in_request',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('program_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opt_in_request'))
    )
    with op.batch_alter_table('opt_in_request', schema=None) as batch_op:
        batch_op.create_index('ix_opt_in_request_pending', ['tenant_id', 'phone', 'status'], unique=False)

    op.create_table('program',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_program'))
    )
    with op.batch_alter_table('consent_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=24), server_default='change', nullable=False))
        batch_op.add_column(sa.Column('evidence', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('import_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_consent_audit_import_key'), ['import_key'])



def downgrade() -> None:
    with op.batch_alter_table('consent_audit', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_consent_audit_import_key'), type_='unique')
        batch_op.drop_column('import_key')
        batch_op.drop_column('evidence')
        batch_op.drop_column('event')

    op.drop_table('program')
    with op.batch_alter_table('opt_in_request', schema=None) as batch_op:
        batch_op.drop_index('ix_opt_in_request_pending')

    op.drop_table('opt_in_request')
    with op.batch_alter_table('import_row_error', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_row_error_job_id'))

    op.drop_table('import_row_error')
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_job_tenant_id'))

    op.drop_table('import_job')
    op.drop_table('dnc_entry')
