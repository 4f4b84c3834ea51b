"""foundation

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 23:48:08.541473
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_dedup',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('carrier_message_id', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=32), nullable=False),
    sa.Column('received_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'carrier', 'carrier_message_id', name=op.f('pk_inbound_dedup'))
    )
    with op.batch_alter_table('inbound_dedup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_dedup_received_at'), ['received_at'], unique=False)

    op.create_table('outbound_message',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('action_id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('from_number', sa.String(length=20), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('carrier', sa.String(length=32), nullable=True),
    sa.Column('carrier_message_id', sa.String(length=200), nullable=True),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_message')),
    sa.UniqueConstraint('action_id', name=op.f('uq_outbound_message_action_id'))
    )
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_message_tenant_phone', ['tenant_id', 'phone'], unique=False)

    op.create_table('segmentation_processed_event',
    sa.Column('event_id', sa.String(length=32), nullable=False),
    sa.Column('processed_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_segmentation_processed_event'))
    )
    op.create_table('sending_number',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('number_type', sa.String(length=16), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'number', name=op.f('pk_sending_number'))
    )
    op.create_table('simulated_message',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('from_number', sa.String(length=20), nullable=False),
    sa.Column('to_number', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('sent_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulated_message'))
    )
    with op.batch_alter_table('simulated_message', schema=None) as batch_op:
        batch_op.create_index('ix_simulated_message_tenant_to', ['tenant_id', 'to_number', 'seq'], unique=False)

    op.create_table('subscriber',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('consent', sa.String(length=16), nullable=False),
    sa.Column('first_seen_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_interaction_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('replies', sa.Integer(), nullable=False),
    sa.Column('messages_received', sa.Integer(), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'phone', name=op.f('pk_subscriber'))
    )
    op.create_table('tenant',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('brand', sa.String(length=200), nullable=False),
    sa.Column('help_text', sa.Text(), nullable=True),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant'))
    )
    op.create_table('api_key',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_api_key_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_key_key_hash'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('carrier_credential',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_carrier_credential_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'carrier', name=op.f('pk_carrier_credential'))
    )


def downgrade() -> None:
    op.drop_table('carrier_credential')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_tenant_id'))

    op.drop_table('api_key')
    op.drop_table('tenant')
    op.drop_table('subscriber')
    with op.batch_alter_table('simulated_message', schema=None) as batch_op:
        batch_op.drop_index('ix_simulated_message_tenant_to')

    op.drop_table('simulated_message')
    op.drop_table('sending_number')
    op.drop_table('segmentation_processed_event')
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_message_tenant_phone')

    op.drop_table('outbound_message')
    with op.batch_alter_table('inbound_dedup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_dedup_received_at'))

    op.drop_table('inbound_dedup')
