"""/v1/segments: rule trees stored per tenant; count, page and membership each run one query."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Response

from libs.common.auth import TenantDep
from libs.common.cursors import PhoneAfter, phone_cursor
from libs.common.db.models.segmentation import Segment
from libs.common.service import CtxDep
from services.segmentation.api.common import e164, new_id, parse_rule
from services.segmentation.api.subscribers import profiles_out
from services.segmentation.schemas import (
    CountOut,
    MembershipOut,
    RuleIn,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
    SubscriberPage,
)
from services.segmentation.store import segments as store

router = APIRouter(prefix="/v1/segments", tags=["segments"])


async def _segment(ctx: CtxDep, tenant_id: str, segment_id: str) -> Segment:
    async with ctx.sessions() as session:
        row = await store.get(session, tenant_id, segment_id)
    if row is None:
        raise HTTPException(404, f"unknown segment '{segment_id}'")
    return row


@router.post("", status_code=201, response_model=SegmentOut)
async def create_segment(body: SegmentIn, tenant_id: TenantDep, ctx: CtxDep) -> Segment:
    parse_rule(body.rule)
    now = ctx.clock()
    row = Segment(tenant_id=tenant_id, id=body.id or new_id(), name=body.name, rule=body.rule,
                  created_at=now, updated_at=now)
    async with ctx.sessions() as session, session.begin():
        if await store.get(session, tenant_id, row.id) is not None:
            raise HTTPException(409, f"segment '{row.id}' exists")
        session.add(row)
    return row


@router.get("", response_model=list[SegmentOut])
async def list_segments(tenant_id: TenantDep, ctx: CtxDep) -> list[Segment]:
    async with ctx.sessions() as session:
        return await store.all_of(session, tenant_id)


@router.post("/count", response_model=CountOut)
async def count_rule(body: RuleIn, tenant_id: TenantDep, ctx: CtxDep) -> CountOut:
    """Count an unsaved rule (a preview while a segment is being built)."""
    node = parse_rule(body.rule)
    async with ctx.sessions() as session:
        return CountOut(count=await store.count(session, tenant_id, node, ctx.clock()))


@router.get("/{segment_id}", response_model=SegmentOut)
async def get_segment(segment_id: str, tenant_id: TenantDep, ctx: CtxDep) -> Segment:
    return await _segment(ctx, tenant_id, segment_id)


@router.patch("/{segment_id}", response_model=SegmentOut)
async def update_segment(segment_id: str, body: SegmentUpdate, tenant_id: TenantDep,
                         ctx: CtxDep) -> Segment:
    if body.rule is not None:
        parse_rule(body.rule)
    async with ctx.sessions() as session, session.begin():
        row = await store.get(session, tenant_id, segment_id)
        if row is None:
            raise HTTPException(404, f"unknown segment '{segment_id}'")
        if body.rule is not None:
            row.rule = body.rule
        if body.name is not None:
            row.name = body.name
        row.updated_at = ctx.clock()
    return row


@router.delete("/{segment_id}", status_code=204)
async def delete_segment(segment_id: str, tenant_id: TenantDep, ctx: CtxDep) -> Response:
    async with ctx.sessions() as session, session.begin():
        row = await store.get(session, tenant_id, segment_id)
        if row is None:
            raise HTTPException(404, f"unknown segment '{segment_id}'")
        await session.delete(row)
    return Response(status_code=204)


@router.get("/{segment_id}/count", response_model=CountOut)
async def count_segment(segment_id: str, tenant_id: TenantDep, ctx: CtxDep) -> CountOut:
    node = parse_rule((await _segment(ctx, tenant_id, segment_id)).rule)
    async with ctx.sessions() as session:
        return CountOut(count=await store.count(session, tenant_id, node, ctx.clock()))


@router.get("/{segment_id}/subscribers", response_model=SubscriberPage)
async def list_members(segment_id: str, tenant_id: TenantDep, ctx: CtxDep,
                       limit: int = Query(100, ge=1, le=1000),
                       after: PhoneAfter = None) -> SubscriberPage:
    """A page of members by phone; pass `next_after` back as `after` for the next page."""
    node = parse_rule((await _segment(ctx, tenant_id, segment_id)).rule)
    async with ctx.sessions() as session:
        rows = await store.page(session, tenant_id, node, ctx.clock(), limit, after)
        items = await profiles_out(session, tenant_id, rows)
    return SubscriberPage(items=items,
                          next_after=phone_cursor(items[-1].phone) if len(items) == limit else None)


@router.get("/{segment_id}/subscribers/{phone}", response_model=MembershipOut)
async def is_member(segment_id: str, phone: str, tenant_id: TenantDep, ctx: CtxDep) -> MembershipOut:
    phone = e164(phone)
    node = parse_rule((await _segment(ctx, tenant_id, segment_id)).rule)
    async with ctx.sessions() as session:
        member = await store.contains(session, tenant_id, node, ctx.clock(), phone)
    return MembershipOut(phone=phone, member=member)
