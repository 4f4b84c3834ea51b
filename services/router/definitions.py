"""Storing keyword rules and flows (the router owns both tables)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.router import CampaignRule, FlowDefinition

M = TypeVar("M", CampaignRule, FlowDefinition)


async def put(session: AsyncSession, table: type[M], tenant_id: str, item: BaseModel,
              now: datetime) -> tuple[M, bool]:
    """Insert or replace a definition; returns (row, created)."""
    row = await session.get(table, (tenant_id, item.id))
    created = row is None
    if created:
        row = table(tenant_id=tenant_id, id=item.id, created_at=now)
        session.add(row)
        if table is FlowDefinition:
            row.version = 0
    row.definition = item.model_dump(mode="json")
    row.updated_at = now
    if table is FlowDefinition:
        row.version = (row.version or 0) + 1
    else:
        row.active = item.active
    await session.flush()
    return row, created


async def get(session: AsyncSession, table: type[M], tenant_id: str, item_id: str) -> M | None:
    return await session.get(table, (tenant_id, item_id))


async def list_all(session: AsyncSession, table: type[M], tenant_id: str) -> list[M]:
    return list(await session.scalars(select(table).where(table.tenant_id == tenant_id)
                                      .order_by(table.id)))


async def delete(session: AsyncSession, table: type[M], tenant_id: str, item_id: str) -> bool:
    row = await session.get(table, (tenant_id, item_id))
    if row is None:
        return False
    await session.delete(row)
    return True
