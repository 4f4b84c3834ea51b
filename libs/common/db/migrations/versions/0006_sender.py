"""sender: delivery state, history, settings, rate buckets, carrier opt-outs

Revision ID: 0006_sender
Revises: 0002_links
Create Date: 2026-11-27 00:24:19.336046
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0006_sender'
down_revision = '0002_links'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('carrier_opt_out',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'phone', name=op.f('pk_carrier_opt_out'))
    )
    op.create_table('outbound_message_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=32), nullable=False),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_message_event'))
    )
    with op.batch_alter_table('outbound_message_event', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_message_event_message', ['message_id', 'id'], unique=False)

    op.create_table('rate_bucket',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('tat', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'number', name=op.f('pk_rate_bucket'))
    )
    op.create_table('sender_pending_receipt',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('carrier_message_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.Column('opted_out', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'carrier', 'carrier_message_id', name=op.f('pk_sender_pending_receipt'))
    )
    op.create_table('sender_settings',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_sender_settings'))
    )
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rule', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('encoding', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('in_reply_to', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rate_slot_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claim', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('lease_until', libs.common.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delivery_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('error_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbound_message_carrier_id', ['carrier', 'carrier_message_id'], unique=False)
        batch_op.create_index('ix_outbound_message_due', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('sending_number', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rate_per_s', sa.Float(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('sending_number', schema=None) as batch_op:
        batch_op.drop_column('rate_per_s')

    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_message_due')
        batch_op.drop_index('ix_outbound_message_carrier_id')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('error_code')
        batch_op.drop_column('delivery_status')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claim')
        batch_op.drop_column('rate_slot_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('in_reply_to')
        batch_op.drop_column('encoding')
        batch_op.drop_column('rule')
        batch_op.drop_column('text')

    op.drop_table('sender_settings')
    op.drop_table('sender_pending_receipt')
    op.drop_table('rate_bucket')
    with op.batch_alter_table('outbound_message_event', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_message_event_message')

    op.drop_table('outbound_message_event')
    op.drop_table('carrier_opt_out')
