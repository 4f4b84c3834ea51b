"""Definitions already in the database that today's validation would refuse (stored before a
rule existed, or written around the API), and decisions that fail for any other reason: the
subscriber's message is still answered as far as it can be, never retried into a dead letter."""

from __future__ import annotations

import structlog
from prometheus_client import REGISTRY
from sqlalchemy import select

from libs.common.db.models.router import CampaignRule, Conversation, FlowDefinition
from libs.common.testing.app import eventually
from libs.common.testing.consent import subscribe
from libs.common.testing.phone import Phone
from services.router import timers
from services.router.flows import engine

FOREVER = {"id": "forever", "start": "ask", "steps": {"ask": {
    "prompt": "Still there? Reply YES", "options": [{"keywords": ["YES"]}],
    "on_timeout": {"after": "99999999d", "actions": [{"type": "reply", "text": "Bye"}]}}}}
FOREVER_RULE = {"id": "forever", "keywords": ["FOREVER"], "actions": [
    {"type": "reply", "text": "Here we go"}, {"type": "start_flow", "flow": "forever"}]}


def errors(kind: str) -> float:
    return REGISTRY.get_sample_value("parley_definition_errors_total",
                                     {"tenant": "acme", "kind": kind}) or 0.0


def dead_letters() -> float:
    return REGISTRY.get_sample_value("parley_bus_dead_letters_total",
                                     {"topic": "sms.inbound", "group": "router"}) or 0.0


async def store_raw(ctx, table, definition: dict) -> None:
    """Write a definition as it is, past the API and its validation."""
    async with ctx.sessions() as session, session.begin():
        row = table(tenant_id="acme", id=definition["id"], definition=definition,
                    created_at=ctx.clock(), updated_at=ctx.clock())
        if table is FlowDefinition:
            row.version = 1
        session.add(row)


async def test_a_stored_flow_with_an_absurd_timeout_still_answers_and_skips_the_timer(playbooks):
    ctx, client, headers = playbooks
    await store_raw(ctx, FlowDefinition, FOREVER)
    await store_raw(ctx, CampaignRule, FOREVER_RULE)
    before, dead = errors("timer"), dead_letters()
    phone = Phone(client, "+15555550140")
    with structlog.testing.capture_logs() as logs:
        await phone.text("FOREVER")
        assert await phone.receive(2) == ["Here we go", "Still there? Reply YES"]
    assert errors("timer") == before + 1 and dead_letters() == dead
    [line] = [e for e in logs if e["event"] == "definition_problem"]
    assert line["log_level"] == "error" and "forever/ask" in line["problem"]
    resp = await client.post("/v1/conversations/start", headers=headers,
                             json={"phone": "+15555550141", "flow_id": "forever"})
    assert resp.status_code == 200 and len(resp.json()["messages"]) == 1, resp.text
    await phone.text("STOP")
    assert "unsubscribed" in (await phone.receive())[0]


async def test_stored_definitions_that_no_longer_validate_are_skipped_and_the_rest_works(playbooks):
    ctx, client, _ = playbooks
    await store_raw(ctx, FlowDefinition, {"id": "broken", "start": "nowhere", "steps": {}})
    await store_raw(ctx, CampaignRule, {"id": "empty", "keywords": [], "actions": []})
    before, dead = errors("load"), dead_letters()
    phone = Phone(client, "+15555550142")
    await phone.text("SHOES")
    assert (await phone.receive())[0].startswith("Shoes it is!")
    assert errors("load") == before + 2 and dead_letters() == dead
    await phone.text("HELP")
    assert "Reply HELP for help" in (await phone.receive())[0]


async def test_a_decision_that_fails_hands_the_message_to_an_agent_and_compliance_still_works(
        playbooks, monkeypatch):
    ctx, client, _ = playbooks

    def broken(*args, **kwargs):
        raise RuntimeError("a step that cannot be entered")

    monkeypatch.setattr(engine, "enter", broken)
    await subscribe(ctx, "acme", "+15555550143")
    before, dead = errors("decision"), dead_letters()
    phone = Phone(client, "+15555550143")
    await phone.text("SHOP")  # the welcome flow's first step raises

    async def queued():
        async with ctx.sessions() as session:
            return await session.scalar(select(Conversation).where(
                Conversation.phone == phone.number, Conversation.status == "agent"))

    conv = await eventually(queued)
    assert conv.handoff_reason == "automation error"
    assert errors("decision") == before + 1 and dead_letters() == dead
    # the subscriber is told a person will answer, as for any hand-off
    assert await phone.receive() == ["Thanks! A team member will reply shortly."]
    await phone.text("STOP")
    assert "unsubscribed" in (await phone.receive())[0]


async def test_a_timer_that_leads_to_a_step_with_an_absurd_timeout_still_fires_once(playbooks):
    ctx, client, headers = playbooks
    await store_raw(ctx, FlowDefinition, {"id": "later", "start": "a", "steps": {
        "a": {"prompt": "A?", "options": [{"keywords": ["YES"]}], "on_timeout": {"after": "1h", "next": "b"}},
        "b": {"prompt": "B?", "options": [{"keywords": ["YES"]}], "on_timeout": {"after": "99999999d"}}}})
    phone = Phone(client, "+15555550144")
    await subscribe(ctx, "acme", phone.number)
    resp = await client.post("/v1/conversations/start", headers=headers,
                             json={"phone": phone.number, "flow_id": "later"})
    assert resp.status_code in (200, 202), resp.text
    assert await phone.receive() == ["A?"]
    before = errors("timer")
    ctx.clock.advance(hours=2)
    assert await timers.fire_due(ctx) == 1
    assert await phone.receive() == ["B?"]
    assert errors("timer") == before + 1
    assert await timers.fire_due(ctx) == 0  # fired, not left pending to fail again
