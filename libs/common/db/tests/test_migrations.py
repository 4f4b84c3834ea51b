"""Migrations apply from empty on SQLite and PostgreSQL, twice without harm, and leave exactly the
schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from libs.common.db import models  # noqa: F401
from libs.common.db.base import Base
from libs.common.db.migrate import upgrade
from libs.common.db.session import make_engine


async def test_migrations_apply_from_empty_and_match_the_models(settings):
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)  # a second start finds nothing to do
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        assert set(Base.metadata.tables) <= tables
        assert version is not None
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        await engine.dispose()
