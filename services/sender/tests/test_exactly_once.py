"""The sender sends an action once however often the bus delivers it, and resolves a crash at any
point without a double send."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from libs.common.db.models.sender import OutboundMessage, SimulatedMessage
from services.sender import sending
from services.sender.consumer import CONCURRENT_SENDS, handle_outbound, handle_outbound_batch
from services.sender.tests.helpers import NUMBERS, command, count, on_fake_carrier


async def test_a_redelivered_action_is_sent_once_and_its_fact_published_again_unchanged(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    first = await handle_outbound(command(), ctx)
    again = await handle_outbound(command(), ctx)
    assert [e.outcome for e in first] == ["sent"]
    assert again == first  # the same fact, same event id: consumers see one send
    assert await count(ctx, SimulatedMessage) == 1
    assert await count(ctx, OutboundMessage) == 1


async def test_a_crash_during_the_simulated_call_is_repeated_without_a_double_send(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    await handle_outbound(command("act-2"), ctx)
    # Rewind to the state a crash right after the carrier call would leave: still `sending`.
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(OutboundMessage).values(status="sending", sent_at=None))
    redelivered = await handle_outbound(command("act-2"), ctx)
    assert [e.outcome for e in redelivered] == ["sent"]
    assert await count(ctx, SimulatedMessage) == 1


async def test_an_unregistered_sending_number_fails_the_message_with_a_reason(suite, tenant):
    app, _ = suite
    (event,) = await handle_outbound(command(from_number="+15555559999"), app.state.ctx)
    assert event.outcome == "failed" and "not a registered sending number" in event.reason


async def test_redelivery_reaches_the_carrier_once(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        cmd = command("act-tw", from_number=NUMBERS["twilio"])
        first = await handle_outbound(cmd, ctx)
        second = await handle_outbound(cmd, ctx)
        third = await handle_outbound(cmd, ctx)
    assert len(fake.calls) == 1
    assert [e.outcome for e in first] == ["sent"] and second == first and third == first


async def test_two_concurrent_deliveries_of_one_action_reach_the_carrier_once(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    ctx.settings.rate_limits = False  # a number's rate would space the sends out
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        fake.delay = 0.05
        cmd = command("act-race", from_number=NUMBERS["twilio"])
        results = await asyncio.gather(handle_outbound(cmd, ctx), handle_outbound(cmd, ctx))
    assert len(fake.calls) == 1
    assert sorted(e.outcome for r in results for e in r) in (["sent"], ["sent", "sent"])


async def test_a_crash_between_record_and_send_is_resolved_on_redelivery_with_one_carrier_call(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        cmd = command("act-crash", from_number=NUMBERS["twilio"])
        row = await sending.record(ctx, cmd, sending.bus_claim(cmd.action_id))  # and the worker stops
        assert row.status == "accepted" and fake.calls == []
        (event,) = await handle_outbound(cmd, ctx)  # the bus delivers the action again
        await handle_outbound(cmd, ctx)
    assert event.outcome == "sent" and len(fake.calls) == 1


async def test_a_row_left_by_a_dead_worker_is_taken_over_by_the_loop_once_its_lease_ran_out(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        cmd = command("act-orphan", from_number=NUMBERS["twilio"])
        await sending.record(ctx, cmd, "api:a-worker-that-died")
        async with ctx.sessions() as session, session.begin():
            await session.execute(update(OutboundMessage).values(lease_until=ctx.clock()))
        from services.sender.deferred import run_due

        await run_due(ctx)
        await run_due(ctx)
        async with ctx.sessions() as session:
            row = await sending.store.message_for_action(session, cmd.action_id)
    assert row.status == "sent" and len(fake.calls) == 1


async def test_an_interrupted_call_to_an_idempotent_carrier_is_repeated_and_deduplicated_there(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    async with on_fake_carrier(app, client, tenant, "telnyx") as fake:
        cmd = command("act-telnyx", from_number=NUMBERS["telnyx"])
        (first,) = await handle_outbound(cmd, ctx)
        async with ctx.sessions() as session, session.begin():
            await session.execute(update(OutboundMessage).values(status="sending", carrier_message_id=None))
        (again,) = await handle_outbound(cmd, ctx)
    assert len(fake.calls) == 2 and len(fake.sent) == 1  # repeated with the same key: one SMS
    assert {c.headers["idempotency-key"] for c in fake.calls} == {first.message_id}
    assert again.outcome == "sent" and again.carrier_message_id == first.carrier_message_id


async def test_a_run_of_actions_is_sent_side_by_side_once_each_in_order_per_subscriber(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    ctx.settings.rate_limits = False  # a number's rate would space the sends out
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        fake.delay = 0.05
        in_flight, most = 0, 0
        real = fake.handle

        async def counted(*args):
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                return await real(*args)
            finally:
                in_flight -= 1

        fake.handle = counted
        chatty = "+15555550150"
        run = [command(f"run-a{i}", phone=chatty, body=f"part {i}", from_number=NUMBERS["twilio"])
               for i in range(3)]
        run += [command(f"run-b{i}", phone=f"+155555502{i:02d}", body=f"to {i}",
                        from_number=NUMBERS["twilio"]) for i in range(9)]
        run.insert(2, run.pop())  # the chatty subscriber's actions interleaved with others'
        facts = await handle_outbound_batch(run, ctx)
        again = await handle_outbound_batch(run, ctx)  # the run redelivered
    assert sorted(f.action_id for f in facts) == sorted(c.action_id for c in run)
    assert {f.outcome for f in facts} == {"sent"}
    assert sorted(again, key=lambda f: f.action_id) == sorted(facts, key=lambda f: f.action_id)
    assert len(fake.sends) == len(run)  # each action reached the carrier once
    assert [c.fields["Body"] for c in fake.sends if c.fields["To"] == chatty] == [
        "part 0", "part 1", "part 2"]
    assert 1 < most <= CONCURRENT_SENDS
