"""Sender consumer: record the action (unique action_id), then send it once.

State machine: accepted → sending → sent | failed. The row is committed in `sending` before the
carrier is called, so a redelivered action finds it: `sent`/`failed` → nothing more; `sending`
(a crash mid-send) → the carrier call is repeated with the same message id, which the carrier
clients use as their idempotency key.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.exc import IntegrityError

from libs.common.db.models.sender import OutboundMessage
from libs.common.events import Event
from libs.common.events.sms_outbound import SendSms
from libs.common.events.sms_sent import SmsSent
from libs.common.observability import MESSAGES_SENT
from libs.common.phone import mask
from libs.common.service import Ctx
from services.sender import store
from services.sender.carriers.simulator import client as simulator
from services.sender.segments import count_segments

log = structlog.get_logger("parley.sender")

FINAL = frozenset({"sent", "failed", "suppressed"})
# Only the opt-out confirmation and HELP answers (kind "compliance") reach an opted-out number.


async def _record(ctx: Ctx, cmd: SendSms) -> OutboundMessage | None:
    """Insert the action once; None when it already reached a final state."""
    async with ctx.sessions() as session, session.begin():
        row = await store.message_for_action(session, cmd.action_id)
        if row is not None:
            return None if row.status in FINAL else row
        row = OutboundMessage(
            id=uuid.uuid4().hex, action_id=cmd.action_id, tenant_id=cmd.tenant_id,
            phone=cmd.phone, from_number=cmd.from_number, body=cmd.body, kind=cmd.kind,
            status="sending", segments=count_segments(cmd.body), campaign_id=cmd.campaign_id,
            flow_id=cmd.flow_id, step=cmd.step, variant=cmd.variant, created_at=ctx.clock())
        session.add(row)
    return row


async def handle_outbound(cmd: SendSms, ctx: Ctx) -> list[Event]:
    try:
        row = await _record(ctx, cmd)
    except IntegrityError:  # a concurrent delivery of the same action recorded it first
        return []
    if row is None:
        return []
    async with ctx.sessions() as session, session.begin():
        number = await store.sending_number(session, cmd.tenant_id, cmd.from_number)
        message = await session.get(OutboundMessage, row.id)
        if cmd.kind != "compliance" and await store.opted_out(session, cmd.tenant_id, cmd.phone):
            message.status, message.reason = "suppressed", "recipient opted out"
        elif number is None:
            message.status, message.reason = "failed", "no registered sending number"
        elif number.carrier == simulator.NAME:
            message.carrier_message_id = await simulator.send(
                session, message_id=message.id, tenant_id=cmd.tenant_id,
                from_number=number.number, to=cmd.phone, body=cmd.body,
                segments=message.segments, now=ctx.clock())
            message.status, message.carrier, message.from_number = "sent", number.carrier, number.number
            message.sent_at = ctx.clock()
        else:
            message.status, message.reason = "failed", f"no client for carrier {number.carrier!r}"
    MESSAGES_SENT.labels(carrier=message.carrier or "none", outcome=message.status).inc()
    log.info("send_" + message.status, tenant=cmd.tenant_id, phone=mask(cmd.phone),
             kind=cmd.kind, reason=message.reason)
    return [SmsSent(tenant_id=cmd.tenant_id, phone=cmd.phone, action_id=cmd.action_id,
                    message_id=message.id, from_number=message.from_number,
                    carrier=message.carrier, carrier_message_id=message.carrier_message_id,
                    outcome=message.status, reason=message.reason, segments=message.segments,
                    kind=cmd.kind, campaign_id=cmd.campaign_id, flow_id=cmd.flow_id,
                    step=cmd.step, variant=cmd.variant)]
