"""segmentation: index the ledger's time column, so old rows can be pruned

Revision ID: 0009_segmentation_ledgers
Revises: 0004_segmentation
Create Date: 2026-11-27 03:40:00
"""

from alembic import op


revision = '0009_segmentation_ledgers'
down_revision = '0004_segmentation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_segmentation_processed_event_processed_at'), 'segmentation_processed_event', ['processed_at'])
    op.create_index(op.f('ix_delivery_receipt_at'), 'delivery_receipt', ['at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_delivery_receipt_at'), table_name='delivery_receipt')
    op.drop_index(op.f('ix_segmentation_processed_event_processed_at'), table_name='segmentation_processed_event')
