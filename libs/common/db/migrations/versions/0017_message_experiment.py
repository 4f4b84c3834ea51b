"""sender: the experiment a message is the tested prompt of

Revision ID: 0017_message_experiment
Revises: 0016_simulator_seq
Create Date: 2026-11-28 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0017_message_experiment'
down_revision = '0016_simulator_seq'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('experiment_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbound_message', schema=None) as batch_op:
        batch_op.drop_column('experiment_id')
