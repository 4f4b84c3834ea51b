"""segmentation: profiles, labels, scores, segments, broadcasts, metrics, experiments

Revision ID: 0004_segmentation
Revises: 0002_links
Create Date: 2026-11-27 00:13:58.975511
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0004_segmentation'
down_revision = '0002_links'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broadcast',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('segment_id', sa.String(length=64), nullable=False),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('rate_per_minute', sa.Integer(), nullable=False),
    sa.Column('reply_window_hours', sa.Integer(), nullable=False),
    sa.Column('audience', sa.Integer(), nullable=False),
    sa.Column('enrolled', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('credit', sa.Float(), nullable=False),
    sa.Column('paced_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('cursor', sa.String(length=20), nullable=True),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_broadcast'))
    )
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.create_index('ix_broadcast_state', ['state'], unique=False)

    op.create_table('broadcast_recipient',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('broadcast_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('enrolled_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reply_deadline_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'broadcast_id', 'phone', name=op.f('pk_broadcast_recipient'))
    )
    with op.batch_alter_table('broadcast_recipient', schema=None) as batch_op:
        batch_op.create_index('ix_broadcast_recipient_state', ['tenant_id', 'broadcast_id', 'state', 'phone'], unique=False)

    op.create_table('conversion',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reply_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'order_id', name=op.f('pk_conversion'))
    )
    with op.batch_alter_table('conversion', schema=None) as batch_op:
        batch_op.create_index('ix_conversion_tenant_at', ['tenant_id', 'at'], unique=False)

    op.create_table('delivery_receipt',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=False),
    sa.Column('carrier_message_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'carrier', 'carrier_message_id', name=op.f('pk_delivery_receipt'))
    )
    op.create_table('experiment',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('goal', sa.String(length=16), nullable=False),
    sa.Column('allocation', sa.String(length=16), nullable=False),
    sa.Column('auto_promote', sa.Boolean(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('min_sends', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('winner', sa.String(length=64), nullable=True),
    sa.Column('promoted_by', sa.String(length=16), nullable=True),
    sa.Column('promoted_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_experiment'))
    )
    with op.batch_alter_table('experiment', schema=None) as batch_op:
        batch_op.create_index('ix_experiment_scope', ['tenant_id', 'flow_id', 'step', 'state'], unique=False)

    op.create_table('experiment_variant',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('experiment_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('successes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'experiment_id', 'key', name=op.f('pk_experiment_variant'))
    )
    op.create_table('interaction',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.Column('keyword', sa.String(length=64), nullable=True),
    sa.Column('recognised', sa.Boolean(), nullable=True),
    sa.Column('tag', sa.String(length=64), nullable=True),
    sa.Column('reply_triggered', sa.Boolean(), nullable=True),
    sa.Column('latency_s', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interaction'))
    )
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.create_index('ix_interaction_scope', ['tenant_id', 'kind', 'at'], unique=False)
        batch_op.create_index('ix_interaction_source', ['tenant_id', 'phone', 'kind', 'source_id'], unique=False)
        batch_op.create_index('ix_interaction_subscriber', ['tenant_id', 'phone', 'kind', 'at'], unique=False)

    op.create_table('score_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('score_after', sa.Integer(), nullable=False),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_entry')),
    sa.UniqueConstraint('tenant_id', 'phone', 'rule', 'ref', name='uq_score_entry_ref')
    )
    with op.batch_alter_table('score_entry', schema=None) as batch_op:
        batch_op.create_index('ix_score_entry_subscriber', ['tenant_id', 'phone', 'at'], unique=False)

    op.create_table('scoring_weights',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_scoring_weights'))
    )
    op.create_table('segment',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.JSON(), nullable=False),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_segment'))
    )
    op.create_table('segmentation_message',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('carrier', sa.String(length=32), nullable=True),
    sa.Column('carrier_message_id', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.Column('experiment_id', sa.String(length=64), nullable=True),
    sa.Column('sent_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('first_reply_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('first_match_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('first_click_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'message_id', name=op.f('pk_segmentation_message'))
    )
    with op.batch_alter_table('segmentation_message', schema=None) as batch_op:
        batch_op.create_index('ix_segmentation_message_campaign', ['tenant_id', 'campaign_id', 'delivered_at'], unique=False)
        batch_op.create_index('ix_segmentation_message_carrier', ['tenant_id', 'carrier', 'carrier_message_id'], unique=False)
        batch_op.create_index('ix_segmentation_message_subscriber', ['tenant_id', 'phone', 'sent_at'], unique=False)

    op.create_table('subscriber_attribute',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.Column('num_value', sa.Float(), nullable=True),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'phone', 'name', name=op.f('pk_subscriber_attribute'))
    )
    with op.batch_alter_table('subscriber_attribute', schema=None) as batch_op:
        batch_op.create_index('ix_subscriber_attribute_tenant_name', ['tenant_id', 'name', 'value'], unique=False)

    op.create_table('subscriber_label',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('applied_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'phone', 'label', name=op.f('pk_subscriber_label'))
    )
    with op.batch_alter_table('subscriber_label', schema=None) as batch_op:
        batch_op.create_index('ix_subscriber_label_tenant_label', ['tenant_id', 'label', 'phone'], unique=False)

    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_interaction_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('score', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('quiet_decays', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_decay_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.alter_column('last_interaction_at',
               existing_type=libs.common.db.base.UtcDateTime(timezone=True),
               nullable=True)
        batch_op.create_index('ix_subscriber_next_decay_at', ['next_decay_at'], unique=False)
        batch_op.create_index('ix_subscriber_tenant_score', ['tenant_id', 'score'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriber_tenant_score')
        batch_op.drop_index('ix_subscriber_next_decay_at')
        batch_op.alter_column('last_interaction_at',
               existing_type=libs.common.db.base.UtcDateTime(timezone=True),
               nullable=False)
        batch_op.drop_column('next_decay_at')
        batch_op.drop_column('quiet_decays')
        batch_op.drop_column('score')
        batch_op.drop_column('first_interaction_at')

    with op.batch_alter_table('subscriber_label', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriber_label_tenant_label')

    op.drop_table('subscriber_label')
    with op.batch_alter_table('subscriber_attribute', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriber_attribute_tenant_name')

    op.drop_table('subscriber_attribute')
    with op.batch_alter_table('segmentation_message', schema=None) as batch_op:
        batch_op.drop_index('ix_segmentation_message_subscriber')
        batch_op.drop_index('ix_segmentation_message_carrier')
        batch_op.drop_index('ix_segmentation_message_campaign')

    op.drop_table('segmentation_message')
    op.drop_table('segment')
    op.drop_table('scoring_weights')
    with op.batch_alter_table('score_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_score_entry_subscriber')

    op.drop_table('score_entry')
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_index('ix_interaction_subscriber')
        batch_op.drop_index('ix_interaction_source')
        batch_op.drop_index('ix_interaction_scope')

    op.drop_table('interaction')
    op.drop_table('experiment_variant')
    with op.batch_alter_table('experiment', schema=None) as batch_op:
        batch_op.drop_index('ix_experiment_scope')

    op.drop_table('experiment')
    op.drop_table('delivery_receipt')
    with op.batch_alter_table('conversion', schema=None) as batch_op:
        batch_op.drop_index('ix_conversion_tenant_at')

    op.drop_table('conversion')
    with op.batch_alter_table('broadcast_recipient', schema=None) as batch_op:
        batch_op.drop_index('ix_broadcast_recipient_state')

    op.drop_table('broadcast_recipient')
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.drop_index('ix_broadcast_state')

    op.drop_table('broadcast')
