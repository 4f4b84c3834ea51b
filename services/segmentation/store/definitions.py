"""The router's flows and campaign rules, read (never written) to check what refers to them:
an experiment's flow and step, the score events scoring weights may name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.router import CampaignRule, FlowDefinition


async def flow(session: AsyncSession, tenant_id: str, flow_id: str) -> dict[str, Any] | None:
    row = await session.get(FlowDefinition, (tenant_id, flow_id))
    return row.definition if row is not None else None


async def all_of(session: AsyncSession, tenant_id: str) -> list[dict[str, Any]]:
    """Every flow and campaign rule of the tenant, as stored."""
    out: list[dict[str, Any]] = []
    for table in (FlowDefinition, CampaignRule):
        out += await session.scalars(select(table.definition).where(table.tenant_id == tenant_id))
    return out
