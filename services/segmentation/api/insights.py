"""/v1/insights: what the numbers alone do not say. `unmatched` lists what subscribers replied
that no option understood, clustered, with a suggested fix (`services/segmentation/insights.py`),
beside the scope's keyword match rate (the `/v1/metrics` definition)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Query

from libs.common import cursors
from libs.common.auth import TenantDep
from libs.common.service import CtxDep
from services.segmentation import insights, metrics
from services.segmentation.api.common import utc
from services.segmentation.schemas import ClusterOut, MatchRateOut, PlaceOut, SuggestionOut, UnmatchedOut
from services.segmentation.store import metrics as metric_store
from services.segmentation.store import unmatched as store

router = APIRouter(prefix="/v1/insights", tags=["insights"])

DEFAULT_WINDOW = timedelta(days=30)
MAX_TEXTS = 500  # distinct texts clustered per request (the most frequent): bounds the cost
MAX_ROWS = 50_000  # (text, raw, step) groups of those texts: far more than 500 texts make in practice
SHOWN_TEXTS, SHOWN_PLACES = 10, 5


def _bad(field: str, msg: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["query", field], "msg": msg, "type": "value_error"}])


def _rank_after(after: str | None) -> int:
    """Where a page starts: the rank a cursor of this list holds."""
    if not after:
        return 0
    try:
        rank = cursors.decode(after).get("rank")
    except cursors.CursorError as exc:
        raise _bad("after", str(exc)) from exc
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
        raise _bad("after", "not a cursor of this list: pass back its own next_after")
    return rank


@router.get("/unmatched", response_model=UnmatchedOut)
async def unmatched_replies(
    tenant_id: TenantDep, ctx: CtxDep,
    flow_id: str | None = Query(None, max_length=64), step: str | None = Query(None, max_length=64),
    campaign_id: str | None = Query(None, max_length=64),
    since: datetime | None = Query(None, description="Window start (inclusive); default until − 30 days."),
    until: datetime | None = Query(None, description="Window end (exclusive); default now."),
    limit: int = Query(20, ge=1, le=100, description="Clusters per page."),
    after: str | None = Query(None, description="The `next_after` of the previous page."),
) -> UnmatchedOut:
    until = utc(until) or ctx.clock()
    since = utc(since) or until - DEFAULT_WINDOW
    if since >= until:
        raise _bad("since", "the window must start before it ends")
    if step is not None and flow_id is None:
        raise _bad("step", "a step is named within its flow: give flow_id too")
    start = _rank_after(after)
    filters = {k: v for k, v in (("campaign_id", campaign_id), ("flow_id", flow_id), ("step", step))
               if v is not None}
    async with ctx.sessions() as session:
        total, distinct, rows = await store.texts(session, tenant_id, filters, since, until,
                                                  MAX_TEXTS, MAX_ROWS)
        clusters = insights.cluster(rows)
        page = clusters[start:start + limit]
        flows = await store.flow_definitions(session, tenant_id,
                                             {c.mostly_at[0] for c in page if c.mostly_at[0]})
        rules = await store.campaign_rules(session, tenant_id)
        (rate,) = await metric_store.compute(session, metrics.Scope(tenant_id, since, until, filters))
    out = []
    for c in page:
        flow, at_step, campaign = c.mostly_at
        options = insights.flow_options(flows.get(flow), at_step) if flow else \
            insights.rule_options([rules[campaign]] if campaign in rules else rules.values())
        s = insights.suggest(c, options)
        out.append(ClusterOut(
            text=c.text, count=c.count, example=c.example,
            texts=[t for t, _ in c.texts.most_common(SHOWN_TEXTS)],
            where=[PlaceOut(flow_id=f, step=st, campaign_id=ca, count=n)
                   for (f, st, ca), n in c.where.most_common(SHOWN_PLACES)],
            suggestion=SuggestionOut(action=s.action, option=s.option, text=s.text)))
    more = start + limit < len(clusters)
    return UnmatchedOut(
        since=since, until=until, filters=filters,
        match=MatchRateOut(**{k: rate[k] for k in MatchRateOut.model_fields}),
        unmatched=total, distinct_texts=distinct, clustered_texts=min(distinct, MAX_TEXTS), clusters=out,
        next_after=cursors.encode({"rank": start + limit}) if more else None)
