"""sender: a fencing token for take-overs and the start of each carrier attempt

Revision ID: 0015_send_attempt
Revises: 0014_sending_number_unique
Create Date: 2026-11-28 09:00:00
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0015_send_attempt'
down_revision = '0014_sending_number_unique'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_epoch', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('attempt_started_at', libs.common.db.base.UtcDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_column('attempt_started_at')
        batch_op.drop_column('claim_epoch')
