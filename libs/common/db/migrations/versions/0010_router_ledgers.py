"""router: index the ledger's time column, so old rows can be pruned

Revision ID: 0010_router_ledgers
Revises: 0007_lifecycle
Create Date: 2026-11-27 03:40:00
"""

from alembic import op


revision = '0010_router_ledgers'
down_revision = '0007_lifecycle'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_router_processed_inbound_processed_at'), 'router_processed_inbound', ['processed_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_router_processed_inbound_processed_at'), table_name='router_processed_inbound')
