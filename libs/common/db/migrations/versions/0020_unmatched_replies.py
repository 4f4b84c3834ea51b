"""segmentation: the replies the router understood nothing of, with their text

Revision ID: 0020_unmatched_replies
Revises: 0009_segmentation_ledgers
Create Date: 2026-12-01 18:00:00
"""

from alembic import op
import sqlalchemy as sa

import libs.common.db.base


revision = '0020_unmatched_replies'
down_revision = '0009_segmentation_ledgers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unmatched_reply',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('judged', sa.Boolean(), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.Column('text', sa.String(length=160), nullable=True),
    sa.Column('raw', sa.String(length=320), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unmatched_reply')),
    sa.UniqueConstraint('tenant_id', 'phone', 'source_id', name='uq_unmatched_reply_source')
    )
    with op.batch_alter_table('unmatched_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unmatched_reply_at'), ['at'], unique=False)
        batch_op.create_index('ix_unmatched_reply_scope', ['tenant_id', 'judged', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('unmatched_reply', schema=None) as batch_op:
        batch_op.drop_index('ix_unmatched_reply_scope')
        batch_op.drop_index(batch_op.f('ix_unmatched_reply_at'))
    op.drop_table('unmatched_reply')
