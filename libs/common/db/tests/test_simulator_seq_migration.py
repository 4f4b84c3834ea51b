"""0016_simulator_seq on both databases: the handset log's rows survive in their order (duplicate
seqs left by the old max + 1 numbering get numbers of their own), the next send continues after
them, and a downgrade keeps them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from libs.common.db.migrate import alembic_config, upgrade
from libs.common.db.session import make_engine

pytestmark = pytest.mark.empty_database  # the migrations under test run on it

AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
INSERT = text("INSERT INTO simulated_message (id, tenant_id, from_number, to_number, body, segments, "
              "sent_at, seq) VALUES (:id, 'acme', '+15555550000', '+15555550100', 'hi', 1, :at, :seq)")


async def test_existing_rows_keep_their_order_and_new_ones_follow(settings):
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine, "0015_send_attempt")
        async with engine.begin() as conn:
            for message_id, seq in (("a", 1), ("b", 2), ("c", 2), ("d", 3), ("e", 5)):
                await conn.execute(INSERT, {"id": message_id, "seq": seq, "at": AT})
        await upgrade(engine)
        async with engine.begin() as conn:
            rows = (await conn.execute(text("SELECT id, seq FROM simulated_message ORDER BY seq"))).all()
            assert [tuple(r) for r in rows] == [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)]
            await conn.execute(text(
                "INSERT INTO simulated_message (id, tenant_id, from_number, to_number, body, segments, "
                "sent_at) VALUES ('f', 'acme', '+15555550000', '+15555550100', 'f', 1, :at)"), {"at": AT})
            assert await conn.scalar(text("SELECT seq FROM simulated_message WHERE id = 'f'")) == 6
        await downgrade(engine, "0015_send_attempt")
        async with engine.begin() as conn:
            rows = (await conn.execute(text("SELECT id, seq FROM simulated_message ORDER BY seq"))).all()
            assert [tuple(r) for r in rows] == [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)]
        await upgrade(engine)
    finally:
        await engine.dispose()


async def downgrade(engine, revision: str) -> None:
    async with engine.begin() as conn:
        def run(sync_conn) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            command.downgrade(cfg, revision)

        await conn.run_sync(run)
