"""router: consent, rules, flows, conversations, timers, webhooks

Revision ID: 0005_router
Revises: 0002_links
Create Date: 2026-11-27 00:05:55.752472
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0005_router'
down_revision = '0002_links'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_rule',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_campaign_rule'))
    )
    op.create_table('consent',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('program_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'program_id', 'phone', name=op.f('pk_consent'))
    )
    op.create_table('consent_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('program_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('keyword', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('source_message_id', sa.String(length=200), nullable=True),
    sa.Column('source_text', sa.Text(), nullable=True),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_audit'))
    )
    with op.batch_alter_table('consent_audit', schema=None) as batch_op:
        batch_op.create_index('ix_consent_audit_subscriber', ['tenant_id', 'phone', 'id'], unique=False)

    op.create_table('conversation',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('fallbacks', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.Column('handoff_reason', sa.String(length=200), nullable=True),
    sa.Column('handed_off_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.Column('started_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation'))
    )
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_open', ['tenant_id', 'phone', 'status'], unique=False)
        batch_op.create_index('ix_conversation_queue', ['tenant_id', 'status', 'handed_off_at'], unique=False)

    op.create_table('flow_definition',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_flow_definition'))
    )
    op.create_table('outgoing_webhook',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_webhook'))
    )
    with op.batch_alter_table('outgoing_webhook', schema=None) as batch_op:
        batch_op.create_index('ix_outgoing_webhook_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('router_processed_inbound',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('carrier_message_id', sa.String(length=200), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('processed_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'carrier', 'carrier_message_id', name=op.f('pk_router_processed_inbound'))
    )
    op.create_table('router_timer',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('due_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_router_timer'))
    )
    with op.batch_alter_table('router_timer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_router_timer_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_router_timer_due', ['status', 'due_at'], unique=False)

    op.create_table('transcript_line',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=True),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('author', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript_line'))
    )
    with op.batch_alter_table('transcript_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcript_line_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_transcript_line_subscriber', ['tenant_id', 'phone', 'id'], unique=False)

    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opt_out_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('opt_in_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('fallback_to_agent', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_column('fallback_to_agent')
        batch_op.drop_column('opt_in_text')
        batch_op.drop_column('opt_out_text')

    with op.batch_alter_table('transcript_line', schema=None) as batch_op:
        batch_op.drop_index('ix_transcript_line_subscriber')
        batch_op.drop_index(batch_op.f('ix_transcript_line_conversation_id'))

    op.drop_table('transcript_line')
    with op.batch_alter_table('router_timer', schema=None) as batch_op:
        batch_op.drop_index('ix_router_timer_due')
        batch_op.drop_index(batch_op.f('ix_router_timer_conversation_id'))

    op.drop_table('router_timer')
    op.drop_table('router_processed_inbound')
    with op.batch_alter_table('outgoing_webhook', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_webhook_due')

    op.drop_table('outgoing_webhook')
    op.drop_table('flow_definition')
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_queue')
        batch_op.drop_index('ix_conversation_open')

    op.drop_table('conversation')
    with op.batch_alter_table('consent_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_audit_subscriber')

    op.drop_table('consent_audit')
    op.drop_table('consent')
    op.drop_table('campaign_rule')
