"""Event builders and a direct feed into the consumer, for tests that script an event log.

Feeding `handle_event` in order (instead of publishing) keeps a scripted log deterministic: the
bus would deliver the five topics independently."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from libs.common.events import Event
from libs.common.events.link_clicked import LinkClicked
from libs.common.events.sms_inbound import InboundSms
from libs.common.events.sms_sent import SmsSent
from libs.common.events.sms_status import StatusUpdate
from libs.common.events.subscriber_events import SubscriberEvent
from libs.common.service import Ctx
from services.segmentation.consumer import handle_event

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
TENANT = "acme"
_ids = itertools.count(1)


def at(minutes: float = 0, *, days: float = 0) -> datetime:
    return T0 + timedelta(days=days, minutes=minutes)


def sent(phone: str, when: datetime, message_id: str | None = None, *, kind: str = "marketing",
         campaign_id: str | None = "spring", flow_id: str | None = None, step: str | None = None,
         variant: str | None = None, experiment_id: str | None = None,
         tenant: str = TENANT) -> SmsSent:
    message_id = message_id or f"m{next(_ids)}"
    return SmsSent(tenant_id=tenant, phone=phone, occurred_at=when, action_id=f"a-{message_id}",
                   message_id=message_id, carrier="simulator", carrier_message_id=f"c-{message_id}",
                   outcome="sent", segments=1, kind=kind, campaign_id=campaign_id, flow_id=flow_id,
                   step=step, variant=variant, experiment_id=experiment_id)


def delivered(msg: SmsSent, when: datetime) -> StatusUpdate:
    return StatusUpdate(tenant_id=msg.tenant_id, phone=msg.phone, occurred_at=when,
                        carrier="simulator", carrier_message_id=msg.carrier_message_id,
                        status="delivered")


def reply(phone: str, when: datetime, body: str = "YES", carrier_message_id: str | None = None,
          tenant: str = TENANT) -> InboundSms:
    return InboundSms(tenant_id=tenant, phone=phone, occurred_at=when, received_at=when,
                      to="+15555550000", body=body, carrier="simulator",
                      carrier_message_id=carrier_message_id or f"in{next(_ids)}")


def fact(phone: str, when: datetime, type_: str, tenant: str = TENANT, **fields) -> SubscriberEvent:
    return SubscriberEvent(tenant_id=tenant, phone=phone, occurred_at=when, type=type_, **fields)


def verdict(inbound: InboundSms, keyword: str | None, when: datetime | None = None,
            **fields) -> SubscriberEvent:
    kind = "keyword_matched" if keyword else "keyword_unmatched"
    return fact(inbound.phone, when or inbound.received_at, kind, tenant=inbound.tenant_id,
                keyword=keyword, source_message_id=inbound.carrier_message_id, **fields)


def click(phone: str, when: datetime, msg: SmsSent | None = None, *, code: str | None = None,
          tag: str | None = None, is_bot: bool = False, tenant: str = TENANT) -> LinkClicked:
    return LinkClicked(
        tenant_id=tenant, phone=phone, occurred_at=when, code=code or f"k{next(_ids)}",
        url="https://shop.example/x", message_id=msg.message_id if msg else None,
        campaign_id=msg.campaign_id if msg else None, flow_id=msg.flow_id if msg else None,
        step=msg.step if msg else None, variant=msg.variant if msg else None, tag=tag,
        is_bot=is_bot)


async def feed(ctx: Ctx, *events: Event) -> None:
    for event in events:
        await handle_event(event, ctx)


def ctx_at(ctx: Ctx, now: datetime) -> Ctx:
    ctx.clock = lambda: now
    return ctx
