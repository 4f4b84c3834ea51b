"""router: the tenant's acknowledgement sent when a conversation is handed to an agent

Revision ID: 0013_tenant_handoff_text
Revises: 0012_conversation_assignee
Create Date: 2026-11-27 06:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013_tenant_handoff_text'
down_revision = '0012_conversation_assignee'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handoff_text', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_column('handoff_text')
