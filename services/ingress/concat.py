"""Concatenated messages a carrier forwards part by part (Vonage): publish the whole message once.

Each part is deduplicated on its own message id, like any message, then stored under its group
(tenant, carrier, sender, recipient, reference); work on one group is serialised
(`store.lock_group`), so two last parts arriving together cannot both miss each other. The part
that completes the group *closes* it in the claim's transaction: the parts move under a reference
of their own, `closed_ref(ref, that part's message id)`, so the live group is empty at once (the
sender may reuse its 8- or 16-bit reference) while the closed group keeps the parts until the
whole message is published (no transaction is held across the publish), and is then dropped. If
the publish fails or the process dies before the drop, the completing part's retry takes its
claim over and publishes its closed group again (`resume`), and `sweep` publishes any group,
closed or not, that has waited longer than `TIMEOUT` (a lost part must not lose the message),
closing it first as well. A part whose reference the sender reused before its group completed
closes the old group (published with the parts that came) and starts the new one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Closed:
    """Messages to publish, and the closed groups holding their parts, to drop once published."""

    messages: list[InboundSms] = field(default_factory=list)
    groups: list[store.GroupKey] = field(default_factory=list)


def closed_ref(ref: str, closer: str) -> str:
    """The reference a group's parts move to when `closer` (a part's message id) closes it."""
    return "~" + hashlib.sha256(f"{ref}\x1f{closer}".encode()).hexdigest()[:32]


def _groups(part: InboundPart) -> tuple[store.GroupKey, store.GroupKey]:
    """(the part's live group, the group it closes, if it closes one)."""
    head = (part.tenant_id, part.carrier, part.phone, part.to_number)
    return (*head, part.ref), (*head, closed_ref(part.ref, part.carrier_message_id))


async def add(session: AsyncSession, accept: Accept, now: datetime) -> Closed:
    """Store one newly claimed part; what it completed (or the reused reference ended)."""
    part = _part(accept, now)
    group, closed = _groups(part)
    await store.lock_group(session, group)
    stored = await store.parts(session, group)
    if any(p.part == part.part or p.total != part.total for p in stored):
        log.warning("concat_reference_reused", carrier=part.carrier, phone=mask(part.phone),
                    parts=len(stored), total=stored[0].total)
        await store.close_group(session, group, closed[4], now)
        await store.add_part(session, part)  # the new message's first part (a total is over 1)
        return Closed([whole_message(stored, now)], [closed])
    if len(stored) + 1 < part.total:
        await store.add_part(session, part)
        return Closed()
    await store.close_group(session, group, closed[4], now)
    part.ref, part.received_at = closed[4], now
    await store.add_part(session, part)
    return Closed([whole_message([*stored, part], now)], [closed])


async def resume(session: AsyncSession, accept: Accept, now: datetime) -> Closed:
    """A part's claim taken over (its first attempt died or its publish failed): the part was
    stored then, so only a group it closed, if still there, has a message to publish."""
    _, closed = _groups(_part(accept, now))
    await store.lock_group(session, closed)
    stored = await store.parts(session, closed)
    return Closed([whole_message(stored, now)], [closed]) if stored else Closed()


async def drop(session: AsyncSession, groups: list[store.GroupKey]) -> None:
    """Closed groups whose messages the bus has taken."""
    for group in groups:
        await store.drop_parts(session, group)


async def sweep(ctx: Ctx) -> int:
    """Publish groups that waited longer than TIMEOUT; returns how many. Each is closed in one
    transaction, published with none open, and dropped in another; one left closed by a failure
    is waited for again from its closing."""
    if not ctx.bus.available():
        return 0
    now = ctx.clock()
    cutoff = now - TIMEOUT
    async with ctx.sessions() as session:
        groups = await store.stale_groups(session, cutoff)
    published = 0
    for group in groups:
        closed = (*group[:4], closed_ref(group[4], f"sweep:{now.isoformat()}"))
        async with ctx.sessions() as session, session.begin():
            await store.lock_group(session, group)
            stored = await store.parts(session, group)
            if not stored or min(p.received_at for p in stored) >= cutoff:
                continue  # another replica got there first
            await store.close_group(session, group, closed[4], now)
        await ctx.bus.emit(whole_message(stored, now))
        async with ctx.sessions() as session, session.begin():
            await store.drop_parts(session, closed)
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
