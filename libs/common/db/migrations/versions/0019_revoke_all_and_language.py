"""router: the date from which a tenant applies the FCC's revoke-all rule (47 CFR 64.1200(a)(10))

Existing tenants get the rule's effective date, 2027-01-31, as new ones do. A program's language,
texts per language and own compliance words live in its definition (JSON) and need no column.

Revision ID: 0019_revoke_all_and_language
Revises: 0013_tenant_handoff_text
Create Date: 2026-12-01 18:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0019_revoke_all_and_language'
down_revision = '0013_tenant_handoff_text'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoke_all_from', sa.Date(), nullable=True,
                                      server_default=sa.text("'2027-01-31'")))


def downgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_column('revoke_all_from')
