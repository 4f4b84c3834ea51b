"""Runs the metric statements of `metrics.py` and hands the rows to its arithmetic."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.segmentation import metrics


async def compute(session: AsyncSession, scope: metrics.Scope) -> list[dict[str, Any]]:
    counts = {name: [tuple(r) for r in await session.execute(stmt)]
              for name, stmt in metrics.count_statements(scope).items()}
    medians = [tuple(r) for r in await session.execute(metrics.median_statement(scope))]
    conversions = [tuple(r) for r in await session.execute(metrics.conversions_statement(scope))]
    return metrics.assemble(scope.group_by, counts, medians, conversions)
