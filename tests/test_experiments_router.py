"""A/B tests reach the phone: the router sends the variant's prompt, the conversation and every
message carry the variant, and a promoted winner takes all traffic; the report counts each
prompt once and the metrics split conversations by their variant (both profiles)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from libs.common.db.models.router import Conversation
from libs.common.db.models.sender import OutboundMessage
from libs.common.testing.app import eventually
from libs.common.testing.phone import START, Phone
from services.router import rules_cache

PROMPTS = {"numbers": "Pick one: reply 1 (Shoes), 2 (Bags) or 3 (Jackets).",
           "words": "Shoes, bags or jackets? Reply 1, 2 or 3."}


async def welcome_experiment(ctx, client, tenant) -> None:
    """A fixed 50/50 test of the welcome flow's first prompt, live for the router at once."""
    resp = await client.post("/v1/experiments", headers=tenant, json={
        "id": "welcome-prompt", "name": "Welcome prompt", "flow_id": "welcome", "step": "ask",
        "allocation": "fixed", "auto_promote": False,
        "variants": [{"key": k, "prompt": p} for k, p in PROMPTS.items()]})
    assert resp.status_code == 201, resp.text
    rules_cache.invalidate(ctx, "acme")


async def test_the_router_sends_variant_prompts_and_a_promoted_winner_takes_all(playbooks):
    ctx, client, tenant = playbooks
    await welcome_experiment(ctx, client, tenant)

    seen = {}
    for n in range(8):
        phone = Phone(client, f"+1555555071{n}")
        await phone.text("SHOP", message_id=f"exp-{n}")  # fixed ids: the split is reproducible
        (prompt,) = await phone.receive()
        async with ctx.sessions() as session:
            conv = await session.scalar(select(Conversation).where(Conversation.phone == phone.number))
        assert PROMPTS[conv.variant] == prompt
        seen[conv.variant] = seen.get(conv.variant, 0) + 1
        await phone.text("2")
        await phone.receive()
        async with ctx.sessions() as session:
            variants = set(await session.scalars(select(OutboundMessage.variant).where(
                OutboundMessage.phone == phone.number)))
        assert variants == {conv.variant}  # the prompt and the offer after it
    assert set(seen) == set(PROMPTS), seen  # a fixed 50/50 split uses both over 8 sends

    resp = await client.post("/v1/experiments/welcome-prompt/promote", headers=tenant,
                             json={"variant": "words"})
    assert resp.status_code == 200, resp.text
    rules_cache.invalidate(ctx, "acme")
    for n in range(4):
        phone = Phone(client, f"+1555555072{n}")
        await phone.text("SHOP")
        assert await phone.receive() == [PROMPTS["words"]]


async def test_the_report_counts_prompts_and_the_metrics_split_conversations_by_variant(playbooks):
    ctx, client, tenant = playbooks
    await welcome_experiment(ctx, client, tenant)

    # Six conversations: four answered (one after a fallback), each answer getting an offer back
    # and completing the conversation; two never answered.
    sends, answered = Counter(), Counter()
    for n in range(6):
        phone = Phone(client, f"+1555555073{n}")
        await phone.text("SHOP", message_id=f"exp-report-{n}")
        await phone.receive()
        async with ctx.sessions() as session:
            variant = await session.scalar(select(Conversation.variant).where(
                Conversation.phone == phone.number))
        sends[variant] += 1
        if n == 0:
            await phone.text("huh")
            await phone.receive()  # the fallback, at the same step
        if n < 4:
            await phone.text("2")
            await phone.receive()  # the offer
            answered[variant] += 1
    assert sum(sends.values()) == 6 and len(sends) == 2, sends

    async def report():
        got = (await client.get("/v1/experiments/welcome-prompt/report", headers=tenant)).json()
        arms = {a["key"]: (a["sends"], a["successes"]) for a in got["arms"]}
        return arms if sum(s for s, _ in arms.values()) == 6 and \
            sum(s for _, s in arms.values()) == 4 else None

    assert await eventually(report) == {k: (sends[k], answered[k]) for k in PROMPTS}

    window = {"start": (START - timedelta(hours=1)).isoformat(),
              "end": (START + timedelta(hours=1)).isoformat()}

    async def by_variant():
        resp = await client.get("/v1/metrics", headers=tenant, params={
            **window, "flow_id": "welcome", "group_by": "variant"})
        groups = {g["key"]["variant"]: g for g in resp.json()["groups"]}
        done = sum(g["conversations_completed"] for g in groups.values()) == 4
        return groups if done else None

    groups = await eventually(by_variant)
    assert set(groups) == set(PROMPTS)  # no conversation of the flow is left without its variant
    for key in PROMPTS:
        g = groups[key]
        assert (g["conversations_started"], g["conversations_completed"]) == (sends[key],
                                                                              answered[key])
        assert g["completion_rate"] == answered[key] / sends[key]
