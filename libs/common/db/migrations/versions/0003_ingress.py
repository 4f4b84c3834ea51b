"""ingress: parts of concatenated messages awaiting their siblings

Revision ID: 0003_ingress
Revises: 0002_links
Create Date: 2026-11-27 00:09:06.323534
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0003_ingress'
down_revision = '0002_links'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_part',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('to_number', sa.String(length=20), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('to_is_short_code', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('carrier_message_id', sa.String(length=200), nullable=False),
    sa.Column('carrier_received_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('received_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'carrier', 'phone', 'to_number', 'ref', 'part',
                            name=op.f('pk_inbound_part'))
    )
    with op.batch_alter_table('inbound_part', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_part_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_part', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_part_received_at'))

    op.drop_table('inbound_part')
