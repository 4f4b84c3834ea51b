"""sender: the simulated handset log's seq comes from the database; outcomes per simulated phone

`seq` was max(seq) + 1, read in the send's transaction: concurrent sends could share a value. It
becomes the primary key, given by the database (SQLite INTEGER PRIMARY KEY AUTOINCREMENT, a
PostgreSQL sequence), and `id` a unique key. Existing rows keep their order: they are numbered
1, 2, 3… by (seq, sent_at, id), so a log without duplicates keeps its numbers.

Revision ID: 0016_simulator_seq
Revises: 0015_send_attempt
Create Date: 2026-12-01 15:00:00
"""

from alembic import op
import sqlalchemy as sa
import libs.common.db.base


revision = '0016_simulator_seq'
down_revision = '0015_send_attempt'
branch_labels = None
depends_on = None

_COLUMNS = "id, tenant_id, from_number, to_number, body, segments, sent_at"
_NUMBERED = "row_number() OVER (ORDER BY seq, sent_at, id)"


def _message_columns(seq_type) -> list:
    return [
        sa.Column('seq', seq_type, autoincrement=True, nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('from_number', sa.String(length=20), nullable=False),
        sa.Column('to_number', sa.String(length=20), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('segments', sa.Integer(), nullable=False),
        sa.Column('sent_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('simulated_handset',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('receipt', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=16), nullable=True),
    sa.Column('updated_at', libs.common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'phone', name=op.f('pk_simulated_handset'))
    )
    if op.get_bind().dialect.name == 'sqlite':
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()
    op.create_index('ix_simulated_message_tenant_seq', 'simulated_message', ['tenant_id', 'seq'], unique=False)


def _rebuild_sqlite(seq_from: str, *constraints, **options) -> None:
    # SQLite cannot change a primary key in place: a new table, the rows copied in order.
    op.create_table('simulated_message_next', *_message_columns(sa.Integer()), *constraints, **options)
    op.execute(f"INSERT INTO simulated_message_next (seq, {_COLUMNS}) "
               f"SELECT {seq_from}, {_COLUMNS} FROM simulated_message")
    op.drop_table('simulated_message')
    op.rename_table('simulated_message_next', 'simulated_message')
    op.create_index('ix_simulated_message_tenant_to', 'simulated_message',
                    ['tenant_id', 'to_number', 'seq'], unique=False)


def _upgrade_sqlite() -> None:
    _rebuild_sqlite(_NUMBERED, sa.PrimaryKeyConstraint('seq', name=op.f('pk_simulated_message')),
                    sa.UniqueConstraint('id', name=op.f('uq_simulated_message_id')),
                    sqlite_autoincrement=True)


def _upgrade_postgresql() -> None:
    op.drop_constraint('pk_simulated_message', 'simulated_message', type_='primary')
    op.execute(f"UPDATE simulated_message AS m SET seq = r.n FROM "
               f"(SELECT id, {_NUMBERED} AS n FROM simulated_message) AS r WHERE m.id = r.id")
    op.alter_column('simulated_message', 'seq', type_=sa.BigInteger(), existing_type=sa.Integer(),
                    existing_nullable=False)
    # The sequence a BIGSERIAL column gets, named as PostgreSQL names it, starting after the rows.
    op.execute("CREATE SEQUENCE simulated_message_seq_seq OWNED BY simulated_message.seq")
    op.execute("SELECT setval('simulated_message_seq_seq', "
               "COALESCE((SELECT max(seq) FROM simulated_message), 0) + 1, false)")
    op.alter_column('simulated_message', 'seq',
                    server_default=sa.text("nextval('simulated_message_seq_seq'::regclass)"))
    op.create_primary_key('pk_simulated_message', 'simulated_message', ['seq'])
    op.create_unique_constraint('uq_simulated_message_id', 'simulated_message', ['id'])


def downgrade() -> None:
    op.drop_index('ix_simulated_message_tenant_seq', table_name='simulated_message')
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_sqlite('seq', sa.PrimaryKeyConstraint('id', name=op.f('pk_simulated_message')))
    else:
        op.drop_constraint('uq_simulated_message_id', 'simulated_message', type_='unique')
        op.drop_constraint('pk_simulated_message', 'simulated_message', type_='primary')
        op.alter_column('simulated_message', 'seq', server_default=None)
        op.execute("DROP SEQUENCE simulated_message_seq_seq")
        op.alter_column('simulated_message', 'seq', type_=sa.Integer(), existing_type=sa.BigInteger(),
                        existing_nullable=False)
        op.create_primary_key('pk_simulated_message', 'simulated_message', ['id'])
    op.drop_table('simulated_handset')
