"""The five shipped playbooks end to end through the simulated carrier, on both profiles:
ingress → bus → router → bus → sender → the phone. Timers run on a clock the test moves."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from libs.common.db.models.router import Conversation, OutgoingWebhook
from libs.common.events import subscriber_events
from libs.common.events.link_clicked import LinkClicked
from libs.common.testing.app import eventually
from libs.common.testing.consent import subscribe
from libs.common.testing.phone import Phone
from services.router import timers


@pytest.fixture
async def world(playbooks):
    """The playbooks' world (see the root conftest) and a fact probe."""
    ctx, client, _ = playbooks
    clock = ctx.clock
    facts: list = []

    async def probe(event):
        facts.append(event)

    await ctx.bus.consume(subscriber_events.TOPIC, "test-facts", probe)
    return ctx, client, clock, facts


async def fire(ctx, clock, **delta):
    clock.advance(**delta)
    return await timers.fire_due(ctx)


async def conversation(ctx, phone):
    """The subscriber's open conversation, else the last one."""
    async with ctx.sessions() as session:
        rows = list(await session.scalars(select(Conversation).where(Conversation.phone == phone)
                                          .order_by(Conversation.started_at.desc())))
    return next((c for c in rows if c.status in ("active", "agent")), rows[0] if rows else None)


async def has_fact(facts, phone, type_, **fields):
    return any(f.phone == phone and f.type == type_ and all(getattr(f, k) == v for k, v in fields.items())
               for f in facts)


async def test_welcome_reply_captures_preference_and_sends_the_category_offer(world):
    ctx, client, clock, facts = world
    phone = Phone(client, "+15555550101")
    await phone.text("SHOP")
    (prompt,) = await phone.receive()
    assert "Reply 1 for Shoes" in prompt and "Acme Shoes" in prompt
    await phone.text("1")
    (offer,) = await phone.receive()
    assert "Shoes are 20% off" in offer
    await eventually(lambda: has_fact(facts, phone.number, "label_applied", label="interest:category_a"))
    conv = await conversation(ctx, phone.number)
    assert conv.status == "completed" and conv.variables["interest"] == "shoes"
    assert await fire(ctx, clock, hours=25) == 0  # the 24 h timeout was cancelled by the reply


async def test_welcome_without_a_reply_gets_the_generic_offer_after_24_hours(world):
    ctx, client, clock, _ = world
    phone = Phone(client, "+15555550102")
    await subscribe(ctx, "acme", phone.number)  # the 24 h follow-up is marketing: it needs consent
    await phone.text("shop")
    await phone.receive()
    assert await fire(ctx, clock, hours=23, minutes=59) == 0
    assert await fire(ctx, clock, minutes=2) == 1
    (generic,) = await phone.receive()
    assert "10% off anything" in generic
    assert (await conversation(ctx, phone.number)).status == "completed"


async def test_flash_sale_unlocks_a_tracked_link_labels_intent_and_closes_after_4_hours(world):
    ctx, client, clock, facts = world
    phone = Phone(client, "+15555550103")
    await phone.text("DEAL")
    (unlocked,) = await phone.receive()
    assert "30% off for the next 4 hours" in unlocked
    assert await link_target(ctx, unlocked) == "https://shop.example/flash"  # a unique tracked link
    await eventually(lambda: has_fact(facts, phone.number, "label_applied", label="intent:deal"))
    await eventually(lambda: has_fact(facts, phone.number, "score_event", score_event="intent"))
    assert await fire(ctx, clock, hours=4, minutes=1) == 1
    assert (await conversation(ctx, phone.number)).status == "completed"
    await phone.nothing_more()


async def test_flash_sale_click_triggers_a_follow_up_30_minutes_later(world):
    ctx, client, clock, _ = world
    phone = Phone(client, "+15555550104")
    await subscribe(ctx, "acme", phone.number)
    await phone.text("deal")
    await phone.receive()
    await ctx.bus.emit(LinkClicked(tenant_id="acme", phone=phone.number, code="abc",
                                   url="https://shop.example/flash", flow_id="flash_sale",
                                   step="unlocked", occurred_at=clock()))
    await eventually(lambda: _pending(ctx, "click"))
    assert await fire(ctx, clock, minutes=29) == 0
    assert await fire(ctx, clock, minutes=2) == 1
    (follow_up,) = await phone.receive()
    assert "Saw you checking out the sale" in follow_up


async def test_flash_sale_click_follow_up_then_the_4_hour_end_still_closes_it_and_the_link_expires(world):
    ctx, client, clock, facts = world
    phone = Phone(client, "+15555550111")
    await subscribe(ctx, "acme", phone.number)
    await phone.text("DEAL")
    (unlocked,) = await phone.receive()
    tap = {"User-Agent": "Mozilla/5.0 (iPhone)"}
    clock.advance(minutes=10)
    assert (await client.get(link_path(unlocked), headers=tap)).status_code == 302
    await eventually(lambda: _pending(ctx, "click"))
    assert await fire(ctx, clock, minutes=29) == 0
    assert await fire(ctx, clock, minutes=2) == 1  # 30 minutes after the click
    (follow_up,) = await phone.receive()
    assert "Saw you checking out the sale" in follow_up
    assert (await conversation(ctx, phone.number)).status == "active"
    assert await fire(ctx, clock, hours=3, minutes=18) == 0  # 3 h 59 after DEAL
    assert await fire(ctx, clock, minutes=2) == 1  # the offer's end was not cancelled by the click
    conv = await conversation(ctx, phone.number)
    assert conv.status == "completed"
    await eventually(lambda: has_fact(facts, phone.number, "conversation_completed",
                                      reason="flash_sale_closed"))
    assert (await client.get(link_path(unlocked), headers=tap)).status_code == 410  # offer over
    assert await fire(ctx, clock, days=30) == 0
    await phone.nothing_more()


PROMO = {"id": "promo", "start": "offer", "steps": {"offer": {
    "prompt": "Shoes 20% off for an hour: {link:https://shop.example/shoes} Reply YES to hold a pair.",
    "options": [{"keywords": ["YES"], "actions": [{"type": "reply", "text": "Held for you."}]}],
    "on_click": {"after": "5m", "actions": [{"type": "reply", "text": "Find your size?"}]},
    "on_no_click": {"after": "20m", "actions": [{"type": "reply", "text": "Don't miss it!"}]},
    "on_timeout": {"after": "1h", "actions": [{"type": "reply", "text": "The sale is over."},
                                               {"type": "end"}]}}}}


async def _promo_clicked(ctx, client, tenant, clock, number):
    """The promo flow started for a subscriber, whose link is clicked 10 minutes later."""
    phone = Phone(client, number)
    await subscribe(ctx, "acme", phone.number)
    assert (await client.post("/v1/flows", headers=tenant, json=PROMO)).status_code == 201
    await start_flow(client, tenant, phone.number, "promo")
    await phone.receive()
    clock.advance(minutes=10)
    await ctx.bus.emit(LinkClicked(tenant_id="acme", phone=phone.number, code="abc",
                                   url="https://shop.example/shoes", flow_id="promo", step="offer",
                                   occurred_at=clock()))
    await eventually(lambda: _pending(ctx, "click"))
    return phone


async def test_a_click_cancels_only_the_no_click_nudge_and_the_timeout_keeps_its_time(world, tenant):
    ctx, client, clock, _ = world
    phone = await _promo_clicked(ctx, client, tenant, clock, "+15555550112")
    assert await fire(ctx, clock, minutes=4) == 0
    assert await fire(ctx, clock, minutes=2) == 1  # the click follow-up, 5 minutes after the click
    assert await phone.receive() == ["Find your size?"]
    assert await fire(ctx, clock, minutes=43) == 0  # 59 min: the nudge is gone, no timeout yet
    assert await fire(ctx, clock, minutes=2) == 1  # 1 h after the prompt, not 1 h after the click
    assert await phone.receive() == ["The sale is over."]
    assert (await conversation(ctx, phone.number)).status == "completed"
    await phone.nothing_more()


async def test_a_reply_after_a_click_cancels_the_follow_up_and_the_timeout(world, tenant):
    ctx, client, clock, _ = world
    phone = await _promo_clicked(ctx, client, tenant, clock, "+15555550113")
    await phone.text("yes")
    assert await phone.receive() == ["Held for you."]
    assert (await conversation(ctx, phone.number)).status == "completed"
    assert await fire(ctx, clock, hours=2) == 0
    await phone.nothing_more()


def link_path(body):
    """The path of the tracked link in a message body."""
    import re

    return "/l/" + re.search(r"/l/([\w-]+)", body).group(1)


async def link_target(ctx, body):
    """Where the tracked link in a message body leads."""
    import re

    from libs.common.db.models.sender import Link

    code = re.search(r"/l/([\w-]+)", body).group(1)
    async with ctx.sessions() as session:
        return (await session.get(Link, code)).url


async def _pending(ctx, kind):
    from libs.common.db.models.router import Timer

    async with ctx.sessions() as session:
        return await session.scalar(select(Timer).where(Timer.kind == kind, Timer.status == "pending"))


async def start_flow(client, headers, phone, flow_id):
    resp = await client.post("/v1/conversations/start", headers=headers,
                             json={"phone": phone, "flow_id": flow_id})
    assert resp.status_code in (200, 202), resp.text  # 202: still pending after 2 s


async def test_feedback_high_score_gets_the_review_link(world, tenant):
    ctx, client, _, _facts = world
    phone = Phone(client, "+15555550105")
    await start_flow(client, tenant, phone.number, "feedback")
    (ask,) = await phone.receive()
    assert "Reply 1 (poor) to 5 (great)" in ask
    await phone.text("5 stars!")
    (review,) = await phone.receive()
    assert "leave us a review" in review
    assert (await conversation(ctx, phone.number)).status == "completed"


async def test_feedback_middle_score_asks_for_thoughts(world, tenant):
    ctx, client, _, _ = world
    phone = Phone(client, "+15555550106")
    await start_flow(client, tenant, phone.number, "feedback")
    await phone.receive()
    await phone.text("3")
    (ask,) = await phone.receive()
    assert "What could we do better" in ask
    await phone.text("Faster shipping would be nice")
    (thanks,) = await phone.receive()
    assert "we read every message" in thanks
    conv = await conversation(ctx, phone.number)
    assert conv.status == "completed" and conv.variables["thoughts"] == "Faster shipping would be nice"


async def test_feedback_low_score_apologises_and_hands_off_to_support(world, tenant):
    ctx, client, _, _facts = world
    phone = Phone(client, "+15555550107")
    await start_flow(client, tenant, phone.number, "feedback")
    await phone.receive()
    await phone.text("1")
    (sorry,) = await phone.receive()
    assert "so sorry" in sorry
    queue = (await client.get("/v1/conversations", headers=tenant, params={"status": "agent"})).json()
    assert [(c["phone"], c["reason"]) for c in queue] == [(phone.number, "low feedback score")]
    async with ctx.sessions() as session:
        hook = await session.scalar(select(OutgoingWebhook))
    assert hook.url == "https://support.example/hooks/parley" and hook.payload["phone"] == phone.number
    # the shipped URL is a placeholder: the forwarding loop skips it instead of calling out
    await eventually(lambda: _hook_status(ctx, hook.id, "skipped"))
    # while an agent owns it, automation is silent
    await phone.text("hello?")
    await eventually(lambda: _transcript_has(client, tenant, queue[0]["id"], "hello?"))
    await phone.nothing_more()


async def _hook_status(ctx, hook_id, status):
    async with ctx.sessions() as session:
        row = await session.get(OutgoingWebhook, hook_id)
    return row.status == status and row.attempts == 1 and row.last_error == "placeholder host"


async def _transcript_has(client, headers, conversation_id, text):
    resp = await client.get(f"/v1/conversations/{conversation_id}", headers=headers)
    return any(line["body"] == text for line in resp.json()["transcript"])


async def test_reengagement_stay_moves_to_nurture(world, tenant):
    ctx, client, _, _facts = world
    phone = Phone(client, "+15555550108")
    await subscribe(ctx, "acme", phone.number)
    await start_flow(client, tenant, phone.number, "reengagement")
    (ask,) = await phone.receive()
    assert "Reply STAY" in ask
    await phone.text("stay")
    staying, tip = await phone.receive(2)
    assert "You're staying" in staying and "early access" in tip
    conv = await conversation(ctx, phone.number)
    assert conv.flow_id == "nurture" and conv.status == "active"


async def test_reengagement_silence_for_48_hours_suppresses(world, tenant):
    ctx, client, clock, facts = world
    phone = Phone(client, "+15555550109")
    await subscribe(ctx, "acme", phone.number)
    await start_flow(client, tenant, phone.number, "reengagement")
    await phone.receive()
    assert await fire(ctx, clock, hours=48, minutes=1) == 1
    await eventually(lambda: has_fact(facts, phone.number, "label_applied", label="status:suppressed"))
    assert (await conversation(ctx, phone.number)).status == "completed"
    await phone.nothing_more()


async def test_quiz_three_steps_to_a_recommendation_and_help_still_answers(world):
    ctx, client, _, _ = world
    phone = Phone(client, "+15555550110")
    await phone.text("QUIZ")
    (q1,) = await phone.receive()
    assert "Reply A for Comfort" in q1
    await phone.text("b)")
    (q2,) = await phone.receive()
    assert "budget" in q2
    await phone.text("HELP")
    (help_text,) = await phone.receive()
    assert "Reply HELP for help, STOP to opt out" in help_text
    assert (await conversation(ctx, phone.number)).step == "budget"
    await phone.text("2")
    (rec,) = await phone.receive()
    assert "our style pick in the mid range" in rec
    assert await link_target(ctx, rec) == "https://shop.example/quiz?p=style&b=mid"
    assert (await conversation(ctx, phone.number)).status == "completed"
