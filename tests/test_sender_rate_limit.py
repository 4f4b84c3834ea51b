"""Per-number rate limits in simulated time: 50 messages on a number limited to 10 per second go out
over about 5 seconds, never more than 10 in any second, through the real pipeline (consumer, shared
bucket in the database, deferred loop)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from libs.common.db.models.sender import OutboundMessage, SendingNumber, SimulatedMessage
from libs.common.db.models.tenancy import Tenant
from libs.common.testing.app import running
from libs.common.testing.phone import Clock
from services.sender.app import service
from services.sender.consumer import handle_outbound
from services.sender.deferred import run_due
from services.sender.tests.helpers import command

T0 = datetime(2026, 11, 20, 17, tzinfo=UTC)
LIMITED = "+15555550010"


async def sent_times(ctx) -> list[datetime]:
    async with ctx.sessions() as session:
        return sorted(await session.scalars(select(SimulatedMessage.sent_at).where(
            SimulatedMessage.from_number == LIMITED)))


async def test_fifty_messages_at_ten_a_second_take_five_seconds_never_over_ten_in_a_second(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    ctx.clock = clock = Clock(T0)
    resp = await client.post("/v1/numbers", headers=tenant,
                             json={"number": LIMITED, "carrier": "simulator", "rate_per_s": 10})
    assert resp.status_code == 201
    for n in range(50):
        await handle_outbound(command(f"burst-{n}", phone=f"+1555555{n:04d}", from_number=LIMITED,
                                      kind="transactional"), ctx)
    assert len(await sent_times(ctx)) == 1  # the rest wait for their slots

    while clock.now < T0 + timedelta(seconds=10):
        clock.advance(seconds=0.01)
        await run_due(ctx)
    times = await sent_times(ctx)
    assert len(times) == 50
    assert times[-1] - times[0] == timedelta(seconds=4.9)
    async with ctx.sessions() as session:
        rows = list(await session.execute(select(
            OutboundMessage.status, OutboundMessage.rate_slot_at, OutboundMessage.sent_at).where(
            OutboundMessage.from_number == LIMITED)))
    assert {status for status, _, _ in rows} == {"sent"}
    # The limiter reserves one slot per message, 0.1 s apart: never more than ten in any second.
    # Each goes out at its slot, or a scheduling tick (0.01 s here) after it; a late one does not
    # move the next one's slot, as with a carrier's token bucket.
    slots = sorted(slot or sent for _, slot, sent in rows)
    assert max(sum(1 for t in slots if start <= t < start + timedelta(seconds=1)) for start in slots) == 10
    assert all(timedelta(0) <= sent - (slot or sent) <= timedelta(seconds=0.05) for _, slot, sent in rows)


async def test_two_sender_replicas_share_one_bucket_per_number(settings):
    """Two sender processes on one database reserve distinct slots on the same number."""
    async with running([service()], settings) as (one, _), running([service()], settings) as (two, _):
        ctx_a, ctx_b = one.state.ctx, two.state.ctx
        ctx_a.clock = ctx_b.clock = Clock(T0)
        async with ctx_a.sessions() as session, session.begin():
            session.add(Tenant(id="acme", name="Acme", brand="Acme", created_at=T0))
            await session.flush()
            session.add(SendingNumber(tenant_id="acme", number=LIMITED, carrier="simulator",
                                      number_type="long_code", is_default=True, rate_per_s=10, created_at=T0))
        await asyncio.gather(*(handle_outbound(command(f"pair-{n}", phone=f"+1555555{n:04d}",
                                                       from_number=LIMITED, kind="transactional"),
                                               ctx_a if n % 2 else ctx_b) for n in range(20)))
        async with ctx_a.sessions() as session:
            slots = sorted(s for s in await session.scalars(select(OutboundMessage.rate_slot_at).where(
                OutboundMessage.status == "deferred")))
    assert len(slots) == 19 and len(set(slots)) == 19  # one went at once; no slot handed out twice
    assert [b - a for a, b in itertools.pairwise(slots)] == [timedelta(seconds=0.1)] * 18
    assert slots[0] == T0 + timedelta(seconds=0.1)
