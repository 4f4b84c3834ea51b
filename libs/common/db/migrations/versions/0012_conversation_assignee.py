"""router: the agent a handed-off conversation is assigned to, and who wrote each agent reply

Revision ID: 0012_conversation_assignee
Revises: 0010_router_ledgers
Create Date: 2026-11-27 04:30:00
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0012_conversation_assignee'
down_revision = '0010_router_ledgers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('assigned_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_conversation_assignee', ['tenant_id', 'assignee', 'status'], unique=False)
    with op.batch_alter_table('transcript_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('transcript_line', schema=None) as batch_op:
        batch_op.drop_column('agent')
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_assignee')
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('assignee')
