"""/v1/metrics: campaign metrics for a window, filtered and split by campaign, flow, step and
variant. Definitions: `services/segmentation/metrics.py`."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Query

from libs.common.auth import TenantDep
from libs.common.service import CtxDep
from services.segmentation import metrics
from services.segmentation.api.common import utc
from services.segmentation.schemas import Dimension, MetricsOut
from services.segmentation.store import metrics as store

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])

DEFAULT_WINDOW = timedelta(days=30)


@router.get("", response_model=MetricsOut)
async def campaign_metrics(
    tenant_id: TenantDep, ctx: CtxDep,
    start: datetime | None = Query(None, description="Window start (inclusive); default end − 30 days."),
    end: datetime | None = Query(None, description="Window end (exclusive); default now."),
    campaign_id: str | None = None, flow_id: str | None = None, step: str | None = None,
    variant: str | None = None,
    group_by: list[Dimension] = Query([], description="Split by these dimensions."),
) -> MetricsOut:
    end = utc(end) or ctx.clock()
    start = utc(start) or end - DEFAULT_WINDOW
    if start >= end:
        raise HTTPException(422, "start: the window must start before it ends")
    filters = {k: v for k, v in (("campaign_id", campaign_id), ("flow_id", flow_id),
                                 ("step", step), ("variant", variant)) if v is not None}
    scope = metrics.Scope(tenant_id, start, end, filters, tuple(dict.fromkeys(group_by)))
    async with ctx.sessions() as session:
        groups = await store.compute(session, scope)
    return MetricsOut(start=start, end=end, filters=filters, group_by=list(scope.group_by),
                      groups=groups)
