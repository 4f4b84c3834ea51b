"""Router guarantees on both profiles: opt-out is honoured while a flow waits, while an agent owns
the conversation and when a marketing message is already queued; timers survive a restart and
fire once even with two routers; the same inbound message is decided once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from libs.common.bus import InvalidEvent
from libs.common.db.models.router import Consent, ConsentAudit, Conversation, Timer
from libs.common.events.sms_inbound import InboundSms
from libs.common.events.sms_outbound import SendSms
from libs.common.testing.app import eventually, running
from libs.common.testing.consent import subscribe
from libs.common.testing.phone import START, Clock, Phone
from services.embedded import all_services
from services.router import consumer, timers
from services.router.demo import load_playbooks
from services.sender.consumer import handle_outbound


@pytest.fixture
def world(playbooks):
    ctx, client, _ = playbooks
    return ctx, client


async def count(ctx, query):
    async with ctx.sessions() as session:
        return await session.scalar(query)


async def test_stop_while_a_flow_waits_cancels_its_timer_and_nothing_more_is_sent(world):
    ctx, client = world
    phone = Phone(client, "+15555550201")
    await phone.text("SHOP")
    await phone.receive()
    await phone.text("Stop.")
    (confirmation,) = await phone.receive()
    assert "unsubscribed" in confirmation
    ctx.clock.advance(hours=30)
    assert await timers.fire_due(ctx) == 0
    await phone.text("1")  # an answer to the old prompt after STOP: silence
    await phone.text("hello")
    await asyncio.sleep(0)  # let the consumers run
    await eventually(lambda: count(ctx, select(func.count()).select_from(ConsentAudit)))
    await phone.nothing_more()
    audit = await count(ctx, select(ConsentAudit.keyword).where(ConsentAudit.phone == phone.number))
    assert audit == "STOP"


async def test_stop_while_an_agent_owns_the_conversation_still_opts_out(world, tenant):
    _ctx, client = world
    phone = Phone(client, "+15555550202")
    resp = await client.post("/v1/conversations/start", headers=tenant,
                             json={"phone": phone.number, "flow_id": "feedback"})
    assert resp.status_code in (200, 202), resp.text  # 202: still pending after 2 s
    await phone.receive()
    await phone.text("1")
    await phone.receive()  # apology; now with an agent
    await phone.text("STOP")
    (confirmation,) = await phone.receive()
    assert "unsubscribed" in confirmation
    queue = (await client.get("/v1/conversations", headers=tenant, params={"status": "agent"})).json()
    assert queue == []
    conv = (await client.get("/v1/conversations", headers=tenant, params={"phone": phone.number})).json()[0]
    resp = await client.post(f"/v1/conversations/{conv['id']}/reply", headers=tenant, json={"body": "hi"})
    assert resp.status_code == 409  # an agent cannot message an opted-out number either


async def test_a_marketing_message_queued_before_stop_is_not_sent_after_it(world):
    ctx, client = world
    phone = Phone(client, "+15555550203")
    queued = SendSms(tenant_id="acme", phone=phone.number, body="Flash sale!", kind="marketing")
    await phone.text("STOP")
    await phone.receive()
    (outcome,) = await handle_outbound(queued, ctx)  # the sender reaches the queued action now
    assert outcome.outcome == "suppressed" and outcome.reason == "recipient opted out"
    await phone.nothing_more()


async def test_start_after_stop_resubscribes_and_confirms(world):
    ctx, client = world
    phone = Phone(client, "+15555550204")
    await phone.text("STOP")
    await phone.receive()
    await phone.text("yes")
    (confirmation,) = await phone.receive()
    assert "subscribed again" in confirmation
    status = await count(ctx, select(Consent.status).where(Consent.phone == phone.number))
    assert status == "opted_in"
    keywords = await _audit(ctx, phone.number)
    assert keywords == [("opted_out", "STOP"), ("opted_in", "YES")]


async def _audit(ctx, phone):
    async with ctx.sessions() as session:
        rows = await session.execute(select(ConsentAudit.status, ConsentAudit.keyword)
                                     .where(ConsentAudit.phone == phone).order_by(ConsentAudit.id))
        return [tuple(r) for r in rows]


def _sms(phone: str, body: str, message_id: str) -> InboundSms:
    return InboundSms(tenant_id="acme", phone=phone, to="+15555550000", body=body,
                      carrier="simulator", carrier_message_id=message_id)


def _texts(events) -> list[tuple[str, str]]:
    return [(e.phone, e.body) for e in events if e.TOPIC == "sms.outbound"]


async def test_a_run_of_messages_decided_together_is_decided_as_one_by_one_in_order(world):
    """A subscriber's second message in a run sees what the first one left (the flow's prompt is
    answered), another subscriber's message is decided on its own state, and a copy of an input
    decided before returns its first events."""
    ctx, _ = world
    first = await consumer.handle_inbound(_sms("+15555550207", "SHOP", "run-0"), ctx)
    run = [_sms("+15555550208", "SHOP", "run-1"), _sms("+15555550209", "HELP", "run-2"),
           _sms("+15555550208", "1", "run-3"), _sms("+15555550207", "SHOP", "run-0")]
    produced = await consumer.handle_inbound_batch(run, ctx)
    texts = _texts(produced)
    assert [phone for phone, _ in texts] == ["+15555550208", "+15555550209", "+15555550208",
                                             "+15555550207"]
    assert "Reply 1 for Shoes" in texts[0][1] and "Shoes are 20% off" in texts[2][1]
    assert [e.event_id for e in produced if e.phone == "+15555550207"] == [e.event_id for e in first]
    conv = await count(ctx, select(Conversation.status).where(Conversation.phone == "+15555550208"))
    assert conv == "completed"
    again = await consumer.handle_inbound_batch(run, ctx)  # the whole run redelivered
    assert [e.event_id for e in again] == [e.event_id for e in produced]


async def test_a_run_with_a_message_for_an_unknown_tenant_fails_whole_and_writes_nothing(world):
    """The bus then replays the run one message at a time, dead-lettering only that one."""
    ctx, _ = world
    run = [_sms("+15555550210", "SHOP", "bad-1"),
           InboundSms(tenant_id="nobody", phone="+15555550211", to="+15555550000", body="HI",
                      carrier="simulator", carrier_message_id="bad-2")]
    with pytest.raises(InvalidEvent):
        await consumer.handle_inbound_batch(run, ctx)
    assert await count(ctx, select(func.count()).select_from(Conversation)
                       .where(Conversation.phone == "+15555550210")) == 0


async def test_the_same_inbound_message_is_decided_once(world):
    ctx, _ = world
    msg = InboundSms(tenant_id="acme", phone="+15555550205", to="+15555550000", body="SHOP",
                     carrier="simulator", carrier_message_id="dup-1")
    first = await consumer.handle_inbound(msg, ctx)
    again = await consumer.handle_inbound(msg, ctx)
    assert [e.event_id for e in again] == [e.event_id for e in first]
    assert await count(ctx, select(func.count()).select_from(Timer)) == 1


async def test_a_pending_timer_survives_a_router_restart_and_fires_once(settings, tmp_path,
                                                                         timers_by_hand):
    clock = Clock(START)
    async with running(all_services(), settings) as (app, client):
        await _prepare(app, client, clock)
        phone = Phone(client, "+15555550206")
        await subscribe(app.state.ctx, "acme", phone.number)
        await phone.text("SHOP")
        await phone.receive()
    async with running(all_services(), settings) as (app, client):  # the restarted process
        ctx = app.state.ctx
        ctx.clock = clock
        clock.advance(hours=25)
        assert await timers.fire_due(ctx) == 1
        assert await timers.fire_due(ctx) == 0
        phone = Phone(client, "+15555550206", seen=1)
        (generic,) = await phone.receive()
        assert "10% off anything" in generic


async def test_two_routers_fire_a_due_timer_once(settings, timers_by_hand):
    clock = Clock(START)
    async with running(all_services(), settings) as (app_a, client):
        await _prepare(app_a, client, clock)
        phone = Phone(client, "+15555550207")
        await subscribe(app_a.state.ctx, "acme", phone.number)
        await phone.text("SHOP")
        await phone.receive()
        async with running(all_services(), settings) as (app_b, _):
            app_b.state.ctx.clock = clock
            clock.advance(hours=25)
            fired = await asyncio.gather(timers.fire_due(app_a.state.ctx), timers.fire_due(app_b.state.ctx),
                                         timers.fire_due(app_a.state.ctx), timers.fire_due(app_b.state.ctx))
            assert sum(fired) == 1
            await phone.receive()
            await asyncio.sleep(0.3)
            await phone.nothing_more()


async def _prepare(app, client, clock):
    app.state.ctx.clock = clock
    resp = await client.post("/v1/tenants", headers={"Authorization": "Bearer test-admin-token"},
                             json={"id": "acme", "name": "Acme", "brand": "Acme Shoes"})
    if resp.status_code == 201:
        key = {"Authorization": f"Bearer {resp.json()['api_key']}"}
        await client.post("/v1/numbers", headers=key, json={"number": "+15555550000", "carrier": "simulator"})
        async with app.state.ctx.sessions() as session, session.begin():
            await load_playbooks(session, "acme", clock())


async def test_a_carrier_reported_opt_out_is_recorded_and_stops_marketing(world):
    from libs.common.events.subscriber_events import SubscriberEvent

    ctx, client = world
    phone = Phone(client, "+15555550208")
    await phone.text("SHOP")
    await phone.receive()
    await ctx.bus.emit(SubscriberEvent(tenant_id="acme", phone=phone.number, type="consent_changed",
                                       consent="opted_out", reason="carrier:21610"))
    await eventually(lambda: count(ctx, select(Consent.status).where(
        Consent.phone == phone.number, Consent.status == "opted_out")))
    keywords = await _audit(ctx, phone.number)
    assert keywords == [("opted_out", None)]
    ctx.clock.advance(hours=25)
    assert await timers.fire_due(ctx) == 0  # the welcome timeout was cancelled with the conversation
