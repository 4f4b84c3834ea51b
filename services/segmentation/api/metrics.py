"""/v1/metrics: campaign metrics for a window, filtered and split by campaign, flow, step and
variant; /v1/metrics/series: the same for each hour or day of the window (each point is exactly
what /v1/metrics answers for that piece of it). Definitions: `services/segmentation/metrics.py`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, HTTPException, Query

from libs.common.auth import TenantDep
from libs.common.service import CtxDep
from services.segmentation import metrics
from services.segmentation.api.common import utc
from services.segmentation.schemas import Dimension, MetricsOut, SeriesOut, SeriesPoint
from services.segmentation.store import metrics as store

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])

DEFAULT_WINDOW = timedelta(days=30)


BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_POINTS = 400


def _scope(tenant_id: str, ctx, start: datetime | None, end: datetime | None,
           dims: dict[str, str | None], group_by: list[str]) -> metrics.Scope:
    end = utc(end) or ctx.clock()
    start = utc(start) or end - DEFAULT_WINDOW
    if start >= end:
        raise HTTPException(422, "start: the window must start before it ends")
    filters = {k: v for k, v in dims.items() if v is not None}
    return metrics.Scope(tenant_id, start, end, filters, tuple(dict.fromkeys(group_by)))


START = Query(None, description="Window start (inclusive); default end − 30 days.")
END = Query(None, description="Window end (exclusive); default now.")
GROUP_BY = Query([], description="Split by these dimensions.")


@router.get("", response_model=MetricsOut)
async def campaign_metrics(
    tenant_id: TenantDep, ctx: CtxDep, start: datetime | None = START, end: datetime | None = END,
    campaign_id: str | None = None, flow_id: str | None = None, step: str | None = None,
    variant: str | None = None, group_by: list[Dimension] = GROUP_BY,
) -> MetricsOut:
    scope = _scope(tenant_id, ctx, start, end, {"campaign_id": campaign_id, "flow_id": flow_id,
                                                "step": step, "variant": variant}, group_by)
    async with ctx.sessions() as session:
        groups = await store.compute(session, scope)
    return MetricsOut(start=scope.start, end=scope.end, filters=dict(scope.filters),
                      group_by=list(scope.group_by), groups=groups)


@router.get("/series", response_model=SeriesOut)
async def metrics_series(
    tenant_id: TenantDep, ctx: CtxDep, start: datetime | None = START, end: datetime | None = END,
    bucket: Literal["hour", "day"] = Query("day", description="Whole UTC hours or days."),
    campaign_id: str | None = None, flow_id: str | None = None, step: str | None = None,
    variant: str | None = None, group_by: list[Dimension] = GROUP_BY,
) -> SeriesOut:
    """The metrics of each hour or day of the window (the first and last clipped to it), each
    computed as /v1/metrics computes a window: the counts of the points add up to the window's."""
    scope = _scope(tenant_id, ctx, start, end, {"campaign_id": campaign_id, "flow_id": flow_id,
                                                "step": step, "variant": variant}, group_by)
    pieces = metrics.buckets(scope.start, scope.end, BUCKETS[bucket])
    if len(pieces) > MAX_POINTS:
        raise HTTPException(422, f"bucket: {len(pieces)} {bucket}s in the window, at most "
                                 f"{MAX_POINTS}: use a wider bucket or a shorter window")
    async with ctx.sessions() as session:
        points = [SeriesPoint(start=a, end=b, groups=await store.compute(
            session, replace(scope, start=a, end=b))) for a, b in pieces]
    return SeriesOut(start=scope.start, end=scope.end, bucket=bucket, filters=dict(scope.filters),
                     group_by=list(scope.group_by), points=points)
