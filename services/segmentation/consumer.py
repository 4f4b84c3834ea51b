"""Segmentation consumers: fold every event into the subscriber's profile, once per event id."""

from __future__ import annotations

from libs.common.db.models.segmentation import Subscriber
from libs.common.events import Event
from libs.common.service import Ctx
from services.segmentation import store
from services.segmentation.profiles import Profile, apply


async def handle_event(event: Event, ctx: Ctx) -> list[Event]:
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        if not await store.first_time(session, event.event_id, now):
            return []
        row = await store.subscriber(session, event.tenant_id, event.phone)
        if row is None:
            row = Subscriber(tenant_id=event.tenant_id, phone=event.phone, consent="unknown",
                             first_seen_at=event.occurred_at, last_interaction_at=event.occurred_at,
                             replies=0, messages_received=0, clicks=0)
            session.add(row)
        profile = apply(Profile(row.consent, row.first_seen_at, row.last_interaction_at,
                                row.replies, row.messages_received, row.clicks),
                        event, event.occurred_at)
        for field, value in vars(profile).items():
            setattr(row, field, value)
    return []
