"""sender: a sending number belongs to at most one tenant

Revision ID: 0014_sending_number_unique
Revises: 0011_sender_ledgers
Create Date: 2026-12-01 15:40:00

A database where two tenants already registered one number stops here with the duplicates named:
which tenant really owns a number is a question for its operator (the first to register it may be
the one that had no right to it), and deleting a tenant's number would quietly stop its sends.
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_sending_number_unique'
down_revision = '0011_sender_ledgers'
branch_labels = None
depends_on = None


def _duplicates() -> list[str]:
    rows = op.get_bind().execute(sa.text(
        "SELECT number, tenant_id FROM sending_number WHERE number IN "
        "(SELECT number FROM sending_number GROUP BY number HAVING COUNT(*) > 1) "
        "ORDER BY number, created_at, tenant_id")).all()
    owners: dict[str, list[str]] = {}
    for number, tenant_id in rows:
        owners.setdefault(number, []).append(tenant_id)
    return [f"{number} (tenants {', '.join(tenants)})" for number, tenants in owners.items()]


def upgrade() -> None:
    if duplicates := _duplicates():
        raise RuntimeError(
            "sending numbers registered by more than one tenant: " + "; ".join(duplicates)
            + ". A number belongs to one tenant: delete the rows of the tenants that do not own it "
            "(DELETE FROM sending_number WHERE tenant_id = '…' AND number = '…'), then migrate again.")
    with op.batch_alter_table('sending_number', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_sending_number_number', ['number'])


def downgrade() -> None:
    with op.batch_alter_table('sending_number', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sending_number_number', type_='unique')
