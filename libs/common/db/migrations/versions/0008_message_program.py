"""sender: program of each message

Revision ID: 0008_message_program
Revises: 0006_sender
Create Date: 2026-11-27 01:28:02.118566
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0008_message_program'
down_revision = '0006_sender'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('program_id', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_column('program_id')

