"""Apply the Alembic migrations up to every head, on SQLite or PostgreSQL.

Each owner adds its revisions on its own branch (down_revision = the foundation), so work on two
services never fights over one chain; `heads` applies them all.

Several services may start at once against one PostgreSQL: a transaction-level advisory lock makes
the others wait and then find nothing left to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x7061726C  # "parl"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    def run(sync_conn) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    if engine.dialect.name == "sqlite":
        await _upgrade_sqlite(engine, run)
        return
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_ID})"))
        await conn.run_sync(run)


async def _upgrade_sqlite(engine: AsyncEngine, run) -> None:
    """All the revisions in one SQLite transaction, DDL included. Python's sqlite3 opens a
    transaction only before a data change, so a CREATE TABLE ran on its own and survived a later
    revision's failure: the next start found tables with no revision recorded and stopped. Here the
    driver's own transaction handling is off for the migration and BEGIN is explicit."""
    def in_one_transaction(sync_conn) -> None:
        raw = sync_conn.connection.dbapi_connection
        previous = raw.isolation_level
        raw.isolation_level = None
        try:
            sync_conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                run(sync_conn)
            except BaseException:
                sync_conn.exec_driver_sql("ROLLBACK")
                raise
            sync_conn.exec_driver_sql("COMMIT")
        finally:
            raw.isolation_level = previous

    async with engine.connect() as conn:
        await conn.run_sync(in_one_transaction)
