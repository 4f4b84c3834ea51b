"""/v1/conversions: orders (with their value and currency) posted by the tenant's shop, attributed
to the subscriber's last reply within the attribution window, for the reply-to-conversion rate
and the revenue per currency (`services/segmentation/metrics.py`)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Response

from libs.common.auth import TenantDep
from libs.common.db.models.segmentation import Conversion
from libs.common.inputs import past_utc
from libs.common.service import CtxDep
from services.segmentation.api.common import e164
from services.segmentation.schemas import ConversionIn, ConversionOut
from services.segmentation.store import activity
from services.segmentation.telemetry import Tallies

router = APIRouter(prefix="/v1/conversions", tags=["conversions"])


def _out(row: Conversion) -> ConversionOut:
    return ConversionOut(order_id=row.order_id, phone=row.phone, value=row.value,
                         currency=row.currency, at=row.at, attributed=row.reply_at is not None,
                         reply_at=row.reply_at, campaign_id=row.campaign_id, flow_id=row.flow_id,
                         step=row.step, variant=row.variant)


@router.post("", status_code=201, response_model=ConversionOut)
async def post_conversion(body: ConversionIn, tenant_id: TenantDep, ctx: CtxDep,
                          response: Response) -> ConversionOut:
    """Idempotent per order id: the same order posted again answers 200 with the first record."""
    phone = e164(body.phone)
    try:
        at = past_utc(body.occurred_at or ctx.clock(), ctx.clock())
    except ValueError as exc:
        raise HTTPException(422, [{"loc": ["body", "occurred_at"], "msg": f"occurred_at: {exc}"}]) from exc
    tallies = Tallies(tenant_id)
    async with ctx.sessions() as session, session.begin():
        existing = await activity.conversion(session, tenant_id, body.order_id)
        if existing is not None:
            if existing.phone != phone or existing.value != body.value:
                raise HTTPException(409, f"order '{body.order_id}' was posted with other details")
            response.status_code = 200
            return _out(existing)
        reply = await activity.last_reply(session, tenant_id, phone, at,
                                          timedelta(hours=body.attribution_window_hours))
        row = Conversion(tenant_id=tenant_id, order_id=body.order_id, phone=phone, value=body.value,
                         currency=body.currency, at=at, reply_at=reply.at if reply else None,
                         message_id=reply.message_id if reply else None,
                         campaign_id=reply.campaign_id if reply else None,
                         flow_id=reply.flow_id if reply else None,
                         step=reply.step if reply else None,
                         variant=reply.variant if reply else None)
        session.add(row)
        if reply is not None:  # unattributed orders are no campaign's conversions
            tallies.add("conversions", row.campaign_id)
            tallies.add_revenue(row.campaign_id, row.currency, float(body.value))
    tallies.publish()
    return _out(row)
