"""Ledger pruning: rows older than the retention go, in chunks; younger rows stay."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from libs.common import ledgers
from libs.common.db.models.ingress import InboundDedup
from libs.common.db.models.segmentation import ProcessedEvent
from libs.common.ledgers import Ledger, prune_once
from libs.common.testing.app import running

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def count(ctx, model) -> int:
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


@pytest.fixture
async def quiet_suite(settings):
    """The suite without its background loops: its own hourly pruning, which starts at once with
    the real clock, would otherwise race the pruning this test drives."""
    from services.embedded import all_services

    services = [dataclasses.replace(svc, loops=()) for svc in all_services()]
    async with running(services, settings) as (app, client):
        yield app, client


async def test_old_ledger_rows_are_pruned_in_chunks_and_recent_ones_kept(quiet_suite, monkeypatch):
    app, _ = quiet_suite
    ctx = app.state.ctx
    monkeypatch.setattr(ledgers, "CHUNK", 3)  # several chunks with a handful of rows
    days = ctx.settings.ledger_retention_days
    ages = [days + 10] * 7 + [days - 1] * 4  # 7 past the retention, 4 within it
    async with ctx.sessions() as session, session.begin():
        await session.execute(insert(ProcessedEvent.__table__), [
            {"event_id": f"e{n}", "processed_at": NOW - timedelta(days=age)} for n, age in enumerate(ages)])
        await session.execute(insert(InboundDedup.__table__), [
            {"tenant_id": "t", "carrier": "twilio", "carrier_message_id": f"SM{n}", "event_id": f"e{n}",
             "received_at": NOW - timedelta(days=age)} for n, age in enumerate(ages)])
    before = await count(ctx, ProcessedEvent), await count(ctx, InboundDedup)

    removed = await prune_once(ctx, [Ledger(ProcessedEvent.processed_at),
                                     Ledger(InboundDedup.received_at)], NOW)
    assert removed == {"segmentation_processed_event": 7, "inbound_dedup": 7}
    after = await count(ctx, ProcessedEvent), await count(ctx, InboundDedup)
    assert after == (before[0] - 7, before[1] - 7)
    assert await prune_once(ctx, [Ledger(ProcessedEvent.processed_at)], NOW) == {
        "segmentation_processed_event": 0}


def test_every_service_prunes_the_ledgers_it_owns():
    from services.embedded import all_services

    names = {svc.name: [loop.__name__ for loop in svc.loops] for svc in all_services()}
    owners = {name: loops for name, loops in names.items() if name != "console"}  # no tables of its own
    assert owners and all("prune_ledgers" in loops for loops in owners.values()), names
