"""Segmentation HTTP: /v1/subscribers (profiles, scoped to the caller's tenant)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from libs.common.auth import TenantDep
from libs.common.phone import InvalidPhone, to_e164
from libs.common.service import CtxDep
from services.segmentation import store
from services.segmentation.schemas import SubscriberOut, SubscriberPage

router = APIRouter(prefix="/v1/subscribers", tags=["subscribers"])


@router.get("", response_model=SubscriberPage)
async def list_subscribers(tenant_id: TenantDep, ctx: CtxDep,
                           limit: int = Query(100, ge=1, le=1000),
                           after: str | None = None) -> SubscriberPage:
    async with ctx.sessions() as session:
        rows, total = await store.page(session, tenant_id, limit, after)
    items = [SubscriberOut.model_validate(r, from_attributes=True) for r in rows]
    return SubscriberPage(total=total, items=items,
                          next_after=items[-1].phone if len(items) == limit else None)


@router.get("/{phone}", response_model=SubscriberOut)
async def get_subscriber(phone: str, tenant_id: TenantDep, ctx: CtxDep):
    try:
        phone = to_e164(phone)
    except InvalidPhone as exc:
        raise HTTPException(422, f"phone: {exc}") from exc
    async with ctx.sessions() as session:
        row = await store.subscriber(session, tenant_id, phone)
    if row is None:
        raise HTTPException(404, f"unknown subscriber {phone}")
    return row
