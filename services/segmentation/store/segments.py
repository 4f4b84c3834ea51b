"""Segment definitions and their members: count, a keyset page, membership of one subscriber.
Each is one SQL query built from the compiled rule (`rules.compile_rule`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.segmentation import Segment, Subscriber
from services.segmentation.rules import Node, S, compile_rule


def members(tenant_id: str, node: Node, now: datetime) -> ColumnElement[bool]:
    return and_(S.c.tenant_id == tenant_id, compile_rule(node, now))


async def count(session: AsyncSession, tenant_id: str, node: Node, now: datetime) -> int:
    return await session.scalar(select(func.count()).select_from(S).where(
        members(tenant_id, node, now))) or 0


async def page(session: AsyncSession, tenant_id: str, node: Node, now: datetime, limit: int,
               after: str | None) -> list[Subscriber]:
    query = select(Subscriber).where(members(tenant_id, node, now))
    if after:
        query = query.where(Subscriber.phone > after)
    return list(await session.scalars(query.order_by(Subscriber.phone).limit(limit)))


async def contains(session: AsyncSession, tenant_id: str, node: Node, now: datetime,
                   phone: str) -> bool:
    return bool(await session.scalar(select(exists().where(
        members(tenant_id, node, now), S.c.phone == phone))))


async def get(session: AsyncSession, tenant_id: str, segment_id: str) -> Segment | None:
    return await session.get(Segment, (tenant_id, segment_id))


async def all_of(session: AsyncSession, tenant_id: str) -> list[Segment]:
    return list(await session.scalars(
        select(Segment).where(Segment.tenant_id == tenant_id).order_by(Segment.id)))
