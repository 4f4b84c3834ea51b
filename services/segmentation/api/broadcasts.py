"""/v1/broadcasts: launch a flow or one message to a segment, watch it, pause, resume, cancel,
and group the subscribers who did not reply within the window."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from libs.common.auth import TenantDep
from libs.common.cursors import PhoneAfter, phone_cursor
from libs.common.db.models.segmentation import Broadcast
from libs.common.labels import LABEL_RULE, clean_label
from libs.common.service import CtxDep
from services.segmentation import broadcasts
from services.segmentation.api.common import new_id, parse_rule
from services.segmentation.schemas import (
    BroadcastIn,
    BroadcastOut,
    PhonePage,
    SuppressIn,
    SuppressOut,
)
from services.segmentation.store import broadcasts as store
from services.segmentation.store import segments as segment_store

router = APIRouter(prefix="/v1/broadcasts", tags=["broadcasts"])


async def _out(session, b: Broadcast) -> BroadcastOut:
    counts = await store.state_counts(session, b.tenant_id, b.id)
    return BroadcastOut.model_validate(b, from_attributes=True).model_copy(
        update={"pending": counts.get("pending", 0), "suppressed": counts.get("suppressed", 0)})


@router.post("", status_code=201, response_model=BroadcastOut)
async def launch(body: BroadcastIn, tenant_id: TenantDep, ctx: CtxDep) -> BroadcastOut:
    """Resolve the audience now (the segment's members minus opted-out subscribers); the pacing
    job then enrolls them at `rate_per_minute`."""
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        segment = await segment_store.get(session, tenant_id, body.segment_id)
        if segment is None:
            raise HTTPException(422, f"segment_id: unknown segment '{body.segment_id}'")
        broadcast_id = body.id or new_id()
        if await store.get(session, tenant_id, broadcast_id) is not None:
            raise HTTPException(409, f"broadcast '{broadcast_id}' exists")
        b = Broadcast(tenant_id=tenant_id, id=broadcast_id, segment_id=segment.id,
                      flow_id=body.flow_id, body=body.body, variant=body.variant, state="running",
                      rate_per_minute=body.rate_per_minute,
                      reply_window_hours=body.reply_window_hours, audience=0, enrolled=0,
                      skipped=0, credit=0.0, paced_at=now, created_at=now)
        session.add(b)
        await session.flush()
        b.audience = await store.resolve_audience(session, tenant_id, broadcast_id,
                                                  parse_rule(segment.rule), now)
        if b.audience == 0:
            b.state, b.finished_at = "completed", now
        return await _out(session, b)


@router.get("", response_model=list[BroadcastOut])
async def list_broadcasts(tenant_id: TenantDep, ctx: CtxDep) -> list[BroadcastOut]:
    async with ctx.sessions() as session:
        return [await _out(session, b) for b in await store.all_of(session, tenant_id)]


@router.get("/{broadcast_id}", response_model=BroadcastOut)
async def get_broadcast(broadcast_id: str, tenant_id: TenantDep, ctx: CtxDep) -> BroadcastOut:
    async with ctx.sessions() as session:
        b = await store.get(session, tenant_id, broadcast_id)
        if b is None:
            raise HTTPException(404, f"unknown broadcast '{broadcast_id}'")
        return await _out(session, b)


async def _act(ctx: CtxDep, tenant_id: str, broadcast_id: str, action: str) -> BroadcastOut:
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        b = await store.get(session, tenant_id, broadcast_id)
        if b is None:
            raise HTTPException(404, f"unknown broadcast '{broadcast_id}'")
        try:
            b.state = broadcasts.transition(b.state, action)
        except broadcasts.TransitionError as exc:
            raise HTTPException(409, str(exc)) from exc
        if action == "resume":
            b.paced_at, b.credit = now, 0.0  # paused time earns no credit
        if action == "cancel":
            b.finished_at = now
        return await _out(session, b)


@router.post("/{broadcast_id}/pause", response_model=BroadcastOut)
async def pause(broadcast_id: str, tenant_id: TenantDep, ctx: CtxDep) -> BroadcastOut:
    return await _act(ctx, tenant_id, broadcast_id, "pause")


@router.post("/{broadcast_id}/resume", response_model=BroadcastOut)
async def resume(broadcast_id: str, tenant_id: TenantDep, ctx: CtxDep) -> BroadcastOut:
    return await _act(ctx, tenant_id, broadcast_id, "resume")


@router.post("/{broadcast_id}/cancel", response_model=BroadcastOut)
async def cancel(broadcast_id: str, tenant_id: TenantDep, ctx: CtxDep) -> BroadcastOut:
    return await _act(ctx, tenant_id, broadcast_id, "cancel")


@router.get("/{broadcast_id}/non-responders", response_model=PhonePage)
async def non_responders(broadcast_id: str, tenant_id: TenantDep, ctx: CtxDep,
                         limit: int = Query(100, ge=1, le=1000),
                         after: PhoneAfter = None) -> PhonePage:
    """Enrolled subscribers whose reply window has passed without a reply, by phone; pass
    `next_after` back as `after` for the next page."""
    async with ctx.sessions() as session:
        if await store.get(session, tenant_id, broadcast_id) is None:
            raise HTTPException(404, f"unknown broadcast '{broadcast_id}'")
        items = await store.non_responders(session, tenant_id, broadcast_id, ctx.clock(), limit,
                                           after)
    return PhonePage(items=items, next_after=phone_cursor(items[-1]) if len(items) == limit else None)


@router.post("/{broadcast_id}/suppress-non-responders", response_model=SuppressOut)
async def suppress(broadcast_id: str, tenant_id: TenantDep, ctx: CtxDep,
                   body: SuppressIn | None = None) -> SuppressOut:
    """Label the non-responders as one group (default `no-reply:<broadcast id>`): a segment with
    `{"not": {"label": ...}}` leaves them out, a re-engagement broadcast targets them."""
    label = clean_label((body.label if body else None) or f"no-reply:{broadcast_id}")
    if label is None:
        raise HTTPException(422, f"label: use {LABEL_RULE}")
    async with ctx.sessions() as session, session.begin():
        if await store.get(session, tenant_id, broadcast_id) is None:
            raise HTTPException(404, f"unknown broadcast '{broadcast_id}'")
        n = await store.suppress_non_responders(session, tenant_id, broadcast_id, label, ctx.clock())
    return SuppressOut(label=label, suppressed=n)
