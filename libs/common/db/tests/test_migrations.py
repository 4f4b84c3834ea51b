"""Migrations apply from empty on SQLite and PostgreSQL, twice without harm, and leave exactly the
schema the models describe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, inspect, text
from sqlalchemy.exc import IntegrityError

from libs.common.db import models  # noqa: F401
from libs.common.db.base import Base
from libs.common.db.migrate import upgrade
from libs.common.db.models.sender import SendingNumber
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


def _number(tenant_id: str, number: str, minutes: int) -> dict:
    return dict(tenant_id=tenant_id, number=number, carrier="simulator", number_type="long_code",
                is_default=False, created_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=minutes))


async def test_a_number_held_by_two_tenants_stops_the_migration_naming_them(settings):
    engine = make_engine(settings.database_url)
    table = SendingNumber.__table__
    try:
        await upgrade(engine, "0011_sender_ledgers")  # before numbers were unique
        async with engine.begin() as conn:
            await conn.execute(table.insert(), [
                _number("zeta", "+15555550000", 1), _number("acme", "+15555550000", 2),
                _number("acme", "+15555550001", 3)])
        with pytest.raises(RuntimeError, match=r"registered by more than one tenant: "
                                               r"\+15555550000 \(tenants zeta, acme\)\. "):
            await upgrade(engine)
        async with engine.begin() as conn:  # nothing was changed: the operator decides
            assert (await conn.execute(text("SELECT COUNT(*) FROM sending_number"))).scalar() == 3
            await conn.execute(delete(table).where(table.c.tenant_id == "zeta"))
        await upgrade(engine)
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(table.insert(), [_number("beta", "+15555550001", 4)])
    finally:
        await engine.dispose()
