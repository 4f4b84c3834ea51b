"""Segmentation queries: subscriber rows and the processed-event ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.segmentation import ProcessedEvent, Subscriber


async def first_time(session: AsyncSession, event_id: str, now: datetime) -> bool:
    if await session.get(ProcessedEvent, event_id) is not None:
        return False
    session.add(ProcessedEvent(event_id=event_id, processed_at=now))
    return True


async def subscriber(session: AsyncSession, tenant_id: str, phone: str) -> Subscriber | None:
    return await session.get(Subscriber, (tenant_id, phone))


async def page(session: AsyncSession, tenant_id: str, limit: int,
               after: str | None) -> tuple[list[Subscriber], int]:
    query = select(Subscriber).where(Subscriber.tenant_id == tenant_id)
    if after:
        query = query.where(Subscriber.phone > after)
    rows = list(await session.scalars(query.order_by(Subscriber.phone).limit(limit)))
    total = await session.scalar(
        select(func.count()).select_from(Subscriber).where(Subscriber.tenant_id == tenant_id))
    return rows, total or 0
