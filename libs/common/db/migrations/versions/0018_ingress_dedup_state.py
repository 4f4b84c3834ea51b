"""ingress: dedup keys are claimed as pending while their event is published

Revision ID: 0018_ingress_dedup_state
Revises: 0003_ingress
Create Date: 2026-11-28 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0018_ingress_dedup_state'
down_revision = '0003_ingress'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this revision were committed with their publish: accepted.
    with op.batch_alter_table('inbound_dedup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), server_default='accepted',
                                      nullable=False))
        batch_op.add_column(sa.Column('claim_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('inbound_dedup', schema=None) as batch_op:
        batch_op.drop_column('claim_epoch')
        batch_op.drop_column('state')
