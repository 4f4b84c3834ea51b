"""/v1/subscribers: profiles with labels, attributes and an explainable score; labels and
attributes set over REST; the tenant's scoring weights."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common import definitions
from libs.common.auth import TenantDep
from libs.common.cursors import PhoneAfter, phone_cursor
from libs.common.db.models.segmentation import Subscriber
from libs.common.labels import (
    ATTRIBUTE_RULE,
    LABEL_RULE,
    clean_attribute_name,
    clean_label,
)
from libs.common.service import CtxDep
from services.segmentation import scoring
from services.segmentation.api.common import e164
from services.segmentation.schemas import (
    AttributesIn,
    ClickOut,
    LabelIn,
    ScoreEntryOut,
    ScoreOut,
    SubscriberOut,
    SubscriberPage,
    WeightsIn,
    WeightsOut,
)
from services.segmentation.store import activity
from services.segmentation.store import definitions as flows
from services.segmentation.store import profiles as store

router = APIRouter(prefix="/v1/subscribers", tags=["subscribers"])


async def profiles_out(session: AsyncSession, tenant_id: str,
                       rows: Sequence[Subscriber]) -> list[SubscriberOut]:
    phones = [r.phone for r in rows]
    labels = await store.labels_of(session, tenant_id, phones)
    attributes = await store.attributes_of(session, tenant_id, phones)
    return [SubscriberOut.model_validate(r, from_attributes=True).model_copy(
        update={"labels": labels.get(r.phone, []), "attributes": attributes.get(r.phone, {})})
        for r in rows]


@router.get("", response_model=SubscriberPage)
async def list_subscribers(tenant_id: TenantDep, ctx: CtxDep,
                           limit: int = Query(100, ge=1, le=1000),
                           after: PhoneAfter = None) -> SubscriberPage:
    """A page of profiles by phone; pass `next_after` back as `after` for the next page."""
    async with ctx.sessions() as session:
        rows, total = await store.page(session, tenant_id, limit, after)
        items = await profiles_out(session, tenant_id, rows)
    return SubscriberPage(total=total, items=items,
                          next_after=phone_cursor(items[-1].phone) if len(items) == limit else None)


@router.get("/scoring", response_model=WeightsOut)
async def get_weights(tenant_id: TenantDep, ctx: CtxDep) -> WeightsOut:
    async with ctx.sessions() as session:
        weights = await store.weights(session, tenant_id)
    return WeightsOut(weights=weights, defaults=scoring.DEFAULT_WEIGHTS)


@router.put("/scoring", response_model=WeightsOut)
async def put_weights(body: WeightsIn, tenant_id: TenantDep, ctx: CtxDep) -> WeightsOut:
    """Replace the tenant's overrides; they apply to events from now on (history stays)."""
    async with ctx.sessions() as session, session.begin():
        events = set().union(*map(definitions.score_events, await flows.all_of(session, tenant_id)))
        if problems := scoring.weight_problems(body.weights, events):
            raise HTTPException(422, [{"loc": ["body", "weights", rule], "msg": f"weights.{rule}: {msg}"}
                                      for rule, msg in problems])
        await store.set_weights(session, tenant_id, body.weights, ctx.clock())
    return WeightsOut(weights=scoring.weights_for(body.weights), defaults=scoring.DEFAULT_WEIGHTS)


@router.get("/{phone}", response_model=SubscriberOut)
async def get_subscriber(phone: str, tenant_id: TenantDep, ctx: CtxDep) -> SubscriberOut:
    phone = e164(phone)
    async with ctx.sessions() as session:
        row = await store.subscriber(session, tenant_id, phone)
        if row is None:
            raise HTTPException(404, f"unknown subscriber {phone}")
        return (await profiles_out(session, tenant_id, [row]))[0]


@router.get("/{phone}/score", response_model=ScoreOut)
async def explain_score(phone: str, tenant_id: TenantDep, ctx: CtxDep,
                        limit: int = Query(200, ge=1, le=5000)) -> ScoreOut:
    phone = e164(phone)
    async with ctx.sessions() as session:
        row = await store.subscriber(session, tenant_id, phone)
        if row is None:
            raise HTTPException(404, f"unknown subscriber {phone}")
        history = await store.score_history(session, tenant_id, phone, limit)
    return ScoreOut(phone=phone, score=row.score,
                    history=[ScoreEntryOut.model_validate(h, from_attributes=True) for h in history])


@router.get("/{phone}/clicks", response_model=list[ClickOut])
async def recent_clicks(phone: str, tenant_id: TenantDep, ctx: CtxDep,
                        limit: int = Query(20, ge=1, le=500)) -> list[ClickOut]:
    """The subscriber's latest human clicks (bots and link unfurlers are not counted), newest first."""
    phone = e164(phone)
    async with ctx.sessions() as session:
        if await store.subscriber(session, tenant_id, phone) is None:
            raise HTTPException(404, f"unknown subscriber {phone}")
        rows = await activity.recent_clicks(session, tenant_id, phone, limit)
    return [ClickOut(at=r.at, code=r.source_id, url=url, tag=r.tag, campaign_id=r.campaign_id,
                     flow_id=r.flow_id, step=r.step, variant=r.variant, message_id=r.message_id)
            for r, url in rows]


async def _ensure(session: AsyncSession, tenant_id: str, phone: str, ctx: CtxDep) -> Subscriber:
    """REST may describe a subscriber before they ever text (an import): create the profile."""
    return await store.locked_subscriber(session, tenant_id, phone, ctx.clock())


@router.post("/{phone}/labels", status_code=201, response_model=SubscriberOut)
async def add_label(phone: str, body: LabelIn, tenant_id: TenantDep, ctx: CtxDep,
                    response: Response) -> SubscriberOut:
    phone = e164(phone)
    label = clean_label(body.label)
    if label is None:
        raise HTTPException(422, f"label: use {LABEL_RULE}")
    async with ctx.sessions() as session, session.begin():
        row = await _ensure(session, tenant_id, phone, ctx)
        if not await store.apply_label(session, tenant_id, phone, label, "api", ctx.clock()):
            response.status_code = 200
        await session.flush()
        return (await profiles_out(session, tenant_id, [row]))[0]


@router.delete("/{phone}/labels/{label}", status_code=204)
async def remove_label(phone: str, label: str, tenant_id: TenantDep, ctx: CtxDep) -> Response:
    phone = e164(phone)
    async with ctx.sessions() as session, session.begin():
        if not await store.remove_label(session, tenant_id, phone, (clean_label(label) or label)):
            raise HTTPException(404, f"{phone} has no label {label!r}")
    return Response(status_code=204)


@router.patch("/{phone}/attributes", response_model=SubscriberOut)
async def set_attributes(phone: str, body: AttributesIn, tenant_id: TenantDep,
                         ctx: CtxDep) -> SubscriberOut:
    phone = e164(phone)
    for name, value in body.attributes.items():
        if clean_attribute_name(name) is None:
            raise HTTPException(422, f"attributes.{name}: a name is {ATTRIBUTE_RULE}")
        if value is not None and len(_text(value)) > 500:
            raise HTTPException(422, f"attributes.{name}: at most 500 characters")
        if isinstance(value, float) and not math.isfinite(value):
            raise HTTPException(422, f"attributes.{name}: must be a finite number")
    async with ctx.sessions() as session, session.begin():
        row = await _ensure(session, tenant_id, phone, ctx)
        for name, value in body.attributes.items():
            text = None if value is None else _text(value)
            await store.set_attribute(session, tenant_id, phone, name, text, ctx.clock())
        await session.flush()
        return (await profiles_out(session, tenant_id, [row]))[0]


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
