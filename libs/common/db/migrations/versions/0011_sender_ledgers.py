"""sender: index the ledger's time column, so old rows can be pruned

Revision ID: 0011_sender_ledgers
Revises: 0008_message_program
Create Date: 2026-11-27 03:40:00
"""

from alembic import op


revision = '0011_sender_ledgers'
down_revision = '0008_message_program'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_sender_pending_receipt_at'), 'sender_pending_receipt', ['at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_sender_pending_receipt_at'), table_name='sender_pending_receipt')
