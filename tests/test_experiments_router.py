"""A/B tests reach the phone: the router sends the variant's prompt, the conversation and every
message carry the variant, and a promoted winner takes all traffic (both profiles)."""

from __future__ import annotations

from sqlalchemy import select

from libs.common.db.models.router import Conversation
from libs.common.db.models.sender import OutboundMessage
from libs.common.testing.phone import Phone
from services.router import rules_cache

PROMPTS = {"numbers": "Pick one: reply 1 (Shoes), 2 (Bags) or 3 (Jackets).",
           "words": "Shoes, bags or jackets? Reply 1, 2 or 3."}


async def test_the_router_sends_variant_prompts_and_a_promoted_winner_takes_all(playbooks):
    ctx, client, tenant = playbooks
    resp = await client.post("/v1/experiments", headers=tenant, json={
        "id": "welcome-prompt", "name": "Welcome prompt", "flow_id": "welcome", "step": "ask",
        "allocation": "fixed", "auto_promote": False,
        "variants": [{"key": k, "prompt": p} for k, p in PROMPTS.items()]})
    assert resp.status_code == 201, resp.text
    rules_cache.invalidate(ctx, "acme")

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
