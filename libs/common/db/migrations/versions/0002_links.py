"""sender: tracked links

Revision ID: 0002_links
Revises: 0001
Create Date: 2026-11-27 00:01:48.987981
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0002_links'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('link',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('flow_id', sa.String(length=64), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('variant', sa.String(length=64), nullable=True),
    sa.Column('tag', sa.String(length=64), nullable=True),
    sa.Column('created_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_link'))
    )
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.create_index('ix_link_tenant_phone', ['tenant_id', 'phone'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.drop_index('ix_link_tenant_phone')

    op.drop_table('link')
