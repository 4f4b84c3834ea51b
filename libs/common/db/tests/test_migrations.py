"""Migrations apply from empty on SQLite and PostgreSQL, twice without harm, and leave exactly the
schema the models describe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column, delete, inspect, table, text
from sqlalchemy.exc import IntegrityError

from libs.common.db import models  # noqa: F401
from libs.common.db.base import Base, UtcDateTime
from libs.common.db.migrate import alembic_config, upgrade
from libs.common.db.models.sender import SendingNumber
from libs.common.db.session import make_engine

pytestmark = pytest.mark.empty_database  # the migrations under test run on it


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


def other_heads(revision: str) -> list[str]:
    """The heads of every chain but `revision`'s. SQLite runs DDL outside the transaction, so a
    migration that stops the upgrade would leave the chains applied before it half-recorded."""
    script = ScriptDirectory.from_config(alembic_config())
    return [head for head in script.get_heads()
            if revision not in {r.revision for r in script.walk_revisions("base", head)}]


def _number(tenant_id: str, number: str, minutes: int) -> dict:
    return dict(tenant_id=tenant_id, number=number, carrier="simulator", number_type="long_code",
                is_default=False, created_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=minutes))


async def test_a_number_held_by_two_tenants_stops_the_migration_naming_them(settings):
    engine = make_engine(settings.database_url)
    table = SendingNumber.__table__
    try:
        await upgrade(engine, "0011_sender_ledgers")  # before numbers were unique
        for head in other_heads("0011_sender_ledgers"):
            await upgrade(engine, head)
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


async def test_dedup_keys_remembered_before_claims_had_states_stay_accepted(settings):
    engine = make_engine(settings.database_url)
    old = table("inbound_dedup", column("tenant_id"), column("carrier"),
                column("carrier_message_id"), column("event_id"),
                column("received_at", UtcDateTime()))
    try:
        await upgrade(engine, "0003_ingress")  # keys were committed with their publish then
        async with engine.begin() as conn:
            await conn.execute(old.insert(), [dict(
                tenant_id="acme", carrier="twilio", carrier_message_id="SM1", event_id="e1",
                received_at=datetime(2026, 11, 1, tzinfo=UTC))])
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT state, claim_epoch FROM inbound_dedup"))).all()
        assert [tuple(row) for row in rows] == [("accepted", 0)]
    finally:
        await engine.dispose()
