"""Concatenated messages a carrier forwards part by part (Vonage): publish the whole message once.

Each part is deduplicated on its own message id, like any message, then stored under its group
(tenant, carrier, sender, recipient, reference). The part that completes the group publishes the
joined text and deletes the parts, all in the transaction that commits after the bus took the
event; work on one group is serialised (`store.lock_group`), so two last parts arriving together
cannot both miss each other. A group still incomplete after `TIMEOUT` is published with the parts
that came (a lost part must not lose the message), and so is a group whose reference the sender
reuses before it completed (references are only 8 or 16 bits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.ingress import InboundPart
from libs.common.events.sms_inbound import InboundSms
from libs.common.phone import mask
from libs.common.service import Ctx
from services.ingress import normalise, store
from services.ingress.intake import MAX_BODY_CHARS, Accept, stable_id

log = structlog.get_logger("parley.ingress.concat")

TIMEOUT = timedelta(minutes=5)
SWEEP_EVERY_S = 30.0


def whole_message(parts: Sequence[InboundPart], now: datetime) -> InboundSms:
    """The message the parts make up, in part order; ids and times from its first part."""
    ordered = sorted(parts, key=lambda p: p.part)
    first = ordered[0]
    body = "".join(p.body for p in ordered)[:MAX_BODY_CHARS]
    received = [p.carrier_received_at for p in ordered if p.carrier_received_at]
    return InboundSms(
        event_id=stable_id(first.tenant_id, first.carrier, first.carrier_message_id), occurred_at=now,
        tenant_id=first.tenant_id, phone=first.phone, to=first.to_number, body=body,
        normalised_body=normalise.body(body), carrier=first.carrier,
        carrier_message_id=first.carrier_message_id, received_at=now,
        carrier_received_at=min(received) if received else None, segments=first.total,
        to_is_short_code=first.to_is_short_code,
    )


def _part(accept: Accept, now: datetime) -> InboundPart:
    event, concat = accept.event, accept.concat
    assert isinstance(event, InboundSms) and concat is not None
    return InboundPart(tenant_id=event.tenant_id, carrier=event.carrier, phone=event.phone,
                       to_number=event.to, ref=concat.ref, part=concat.part, total=concat.total,
                       to_is_short_code=event.to_is_short_code, body=event.body,
                       carrier_message_id=event.carrier_message_id,
                       carrier_received_at=event.carrier_received_at, received_at=now)


async def add(session: AsyncSession, accept: Accept, now: datetime) -> list[InboundSms]:
    """Store one part; return the messages now complete (usually none, at most two)."""
    part = _part(accept, now)
    group = (part.tenant_id, part.carrier, part.phone, part.to_number, part.ref)
    await store.lock_group(session, group)
    stored = await store.parts(session, group)
    done: list[InboundSms] = []
    if any(p.part == part.part or p.total != part.total for p in stored):
        log.warning("concat_reference_reused", carrier=part.carrier, phone=mask(part.phone),
                    parts=len(stored), total=stored[0].total)
        done.append(whole_message(stored, now))
        await store.drop_parts(session, group)
        stored = []
    if len(stored) + 1 == part.total:
        done.append(whole_message([*stored, part], now))
        await store.drop_parts(session, group)
    else:
        store.add_part(session, part)
    return done


async def sweep(ctx: Ctx) -> int:
    """Publish groups that waited longer than TIMEOUT; returns how many."""
    now = ctx.clock()
    cutoff = now - TIMEOUT
    async with ctx.sessions() as session:
        groups = await store.stale_groups(session, cutoff)
    published = 0
    for group in groups:
        async with ctx.sessions() as session, session.begin():
            await store.lock_group(session, group)
            stored = await store.parts(session, group)
            if not stored or min(p.received_at for p in stored) >= cutoff:
                continue  # another replica got there first
            message = whole_message(stored, now)
            await store.drop_parts(session, group)
            await ctx.bus.emit(message)
        published += 1
        log.warning("concat_incomplete_published", carrier=group[1], phone=mask(group[2]),
                    parts=len(stored), total=stored[0].total)
    return published


async def sweep_loop(ctx: Ctx) -> None:
    """Background loop of the ingress service. A failed sweep (database or bus down) is retried on
    the next turn: the parts stay stored until a sweep succeeds."""
    while True:
        await asyncio.sleep(SWEEP_EVERY_S)
        try:
            await sweep(ctx)
        except Exception as exc:  # the loop must outlive any outage
            log.error("concat_sweep_failed", error=repr(exc))
