"""End to end through the simulated carrier, on both profiles: a text arrives at ingress, crosses
the bus to the router, its answer crosses the bus to the sender, and the phone's outbox shows it."""

from __future__ import annotations

from libs.common.testing.app import eventually

PHONE = "+15555550100"


async def outbox(client, phone=PHONE, tenant="acme"):
    resp = await client.get(f"/simulator/{tenant}/outbox", params={"to": phone})
    assert resp.status_code == 200, resp.text
    return resp.json()


async def text(client, body, phone=PHONE, message_id=None, tenant="acme"):
    payload = {"from": phone, "to": "+15555550000", "body": body}
    if message_id:
        payload["id"] = message_id
    return await client.post(f"/webhooks/simulator/{tenant}/inbound", json=payload)


async def test_a_text_is_answered_through_ingress_router_and_sender(suite, tenant):
    _, client = suite
    resp = await text(client, "HELP")
    assert resp.status_code == 200, resp.text

    got = await eventually(lambda: outbox(client))
    assert len(got) == 1
    reply = got[0]
    assert reply["from"] == "+15555550000" and reply["to"] == PHONE
    assert "Acme Shoes" in reply["body"] and "STOP" in reply["body"]
    assert reply["segments"] == 1


async def test_the_subscriber_profile_counts_the_reply_and_the_message_received(suite, tenant):
    _, client = suite
    await text(client, "HELP")
    await eventually(lambda: outbox(client))

    async def profile():
        resp = await client.get(f"/v1/subscribers/{PHONE}", headers=tenant)
        return resp.json() if resp.status_code == 200 and resp.json()["messages_received"] else None

    got = await eventually(profile)
    assert got["replies"] == 1 and got["messages_received"] == 1


async def test_a_carrier_retry_of_the_same_message_is_answered_once(suite, tenant):
    _, client = suite
    for _ in range(3):
        resp = await text(client, "HELP", message_id="carrier-msg-1")
        assert resp.status_code == 200
    await eventually(lambda: outbox(client))
    await text(client, "HELP", message_id="carrier-msg-2")  # a later, distinct message
    got = await eventually(lambda: _at_least(outbox(client), 2))
    assert len(got) == 2


async def _at_least(coro, n):
    got = await coro
    return got if len(got) >= n else None
