"""Ledgers: the tables that remember what was already done (processed event ids, accepted carrier
message ids, receipts waiting for their send), so a redelivery changes nothing.

A ledger row is only useful while a duplicate can still arrive: within the bus's retention (Kafka
keeps 7 days by default) or a carrier's retries (hours). Rows older than
PARLEY_LEDGER_RETENTION_DAYS (default 30) are pruned by the service that owns the table, once an
hour, a chunk per transaction so no prune holds SQLite's one writer (or PostgreSQL's row locks) for
long. Without this, every message ever handled would stay in each ledger: a million-row import
alone leaves a million processed event ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Column, delete, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

log = structlog.get_logger("parley.ledgers")

CHUNK = 5_000
EVERY_S = 3600.0


@dataclass(frozen=True)
class Ledger:
    """A table and the (indexed) time column that says how old each row is."""

    column: InstrumentedAttribute

    @property
    def table(self):
        return self.column.class_.__table__

    @property
    def name(self) -> str:
        return self.table.name


async def prune_once(ctx, ledgers: Sequence[Ledger], now: datetime) -> dict[str, int]:
    """Delete ledger rows older than the retention; returns rows removed per table."""
    cutoff = now - timedelta(days=ctx.settings.ledger_retention_days)
    removed: dict[str, int] = {}
    for ledger in ledgers:
        key: list[Column] = list(ledger.table.primary_key.columns)
        oldest = select(*key).where(ledger.column < cutoff).limit(CHUNK)
        removed[ledger.name] = 0
        while True:
            async with ctx.sessions() as session, session.begin():
                result = await session.execute(delete(ledger.table).where(tuple_(*key).in_(oldest)))
            removed[ledger.name] += result.rowcount
            if result.rowcount < CHUNK:
                break
            await asyncio.sleep(0)  # let the service's own work in between chunks
        if removed[ledger.name]:
            log.info("ledger_pruned", table=ledger.name, rows=removed[ledger.name],
                     days=ctx.settings.ledger_retention_days)
    return removed


def pruning_loop(*ledgers: Ledger) -> Callable[[object], Awaitable[None]]:
    """A service loop that prunes these ledgers every hour (first pass at start)."""

    async def prune_ledgers(ctx) -> None:
        while True:
            try:
                await prune_once(ctx, ledgers, ctx.clock())
            except Exception as exc:  # a database blip must not end the loop
                log.warning("ledger_prune_failed", error=repr(exc))
            await asyncio.sleep(EVERY_S)

    return prune_ledgers
