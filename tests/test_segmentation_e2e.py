"""Across services, on both profiles: texts that arrive through ingress become subscriber data
(replies, score, segment membership), and a broadcast to that segment publishes one enrollment
per subscriber for the router."""

from __future__ import annotations

from libs.common.events import campaign_enrolled
from libs.common.testing.app import eventually

PHONES = ["+15555550801", "+15555550802"]


async def text(client, phone, body):
    resp = await client.post("/webhooks/simulator/acme/inbound",
                             json={"from": phone, "to": "+15555550000", "body": body})
    assert resp.status_code == 200, resp.text


async def test_texts_become_a_segment_and_a_broadcast_enrolls_it(suite, tenant):
    app, client = suite
    enrolled: list = []

    async def record(event):
        enrolled.append(event)

    await app.state.ctx.bus.consume(campaign_enrolled.TOPIC, "e2e-observer", record)
    for phone in PHONES:
        await text(client, phone, "hello there")
        resp = await client.post(f"/v1/subscribers/{phone}/labels", headers=tenant,
                                 json={"label": "vip"})
        assert resp.status_code in (200, 201)

    async def replied():
        resp = await client.post("/v1/segments/count", headers=tenant, json={"rule": {"all": [
            {"label": "vip"}, {"replied": {"within_days": 1}}, {"score": {"gte": 8}}]}})
        return resp.json()["count"] == 2 or None

    await eventually(replied)
    profile = (await client.get(f"/v1/subscribers/{PHONES[0]}", headers=tenant)).json()
    assert profile["replies"] == 1 and profile["last_interaction_at"] is not None

    await client.post("/v1/segments", headers=tenant, json={
        "id": "chatty-vips", "name": "Chatty VIPs",
        "rule": {"all": [{"label": "vip"}, {"replied": {"within_days": 1}}]}})
    resp = await client.post("/v1/broadcasts", headers=tenant, json={
        "id": "thanks", "segment_id": "chatty-vips", "body": "Thanks for chatting!",
        "rate_per_minute": 100_000})
    assert resp.status_code == 201 and resp.json()["audience"] == 2

    async def all_enrolled():
        return len(enrolled) >= 2 or None

    await eventually(all_enrolled)
    assert sorted(e.enrollment_id for e in enrolled) == [f"thanks:{p}" for p in PHONES]
