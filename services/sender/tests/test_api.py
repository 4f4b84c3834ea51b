"""`/v1/messages` and `/v1/numbers`: one-off sends through every check, bad input refused with a
reason before anything reaches a carrier, idempotency keys, settings, and a message's history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.db.models.sender import OutboundMessage
from libs.common.testing.consent import subscribe
from libs.common.testing.phone import Clock
from services.sender.tests.helpers import NUMBERS, count, message, on_fake_carrier, send

NEW_YORK = "+12125550123"
NOON_NY = datetime(2026, 11, 20, 17, tzinfo=UTC)

BAD = [
    ("an invalid number", {"to": "+12125", "body": "hi"}, "to: not a possible phone number"),
    ("not a number at all", {"to": "call me", "body": "hi"}, "to: not a phone number"),
    ("an empty body", {"to": NEW_YORK, "body": ""}, "body: the message is empty"),
    ("a blank body", {"to": NEW_YORK, "body": "   \n"}, "body: the message is empty"),
    ("a body over 1,600 characters", {"to": NEW_YORK, "body": "x" * 1601},
     "body: 1,601 characters; at most 1,600 can be sent"),
    ("an unregistered sending number", {"to": NEW_YORK, "body": "hi", "from": "+13125559999"},
     "from: +13125559999 is not a registered sending number"),
    ("a malformed tracked link", {"to": NEW_YORK, "body": "see {link:shop.example}"}, "body: a {link:…}"),
    ("a short code as recipient", {"to": "384387", "body": "hi"}, "to: a short code cannot receive messages"),
]


@pytest.mark.parametrize("payload, reason", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
async def test_bad_input_is_refused_with_a_reason_and_nothing_reaches_a_carrier(suite, tenant, payload,
                                                                               reason):
    app, client = suite
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        payload = {"from": NUMBERS["twilio"], **payload}
        resp = await client.post("/v1/messages", headers=tenant, json=payload)
        assert resp.status_code == 422, resp.text
        assert resp.json()["detail"].startswith(reason)
        assert fake.calls == []
    assert await count(app.state.ctx, OutboundMessage) == 0


async def test_a_missing_body_is_422_naming_the_field(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/messages", headers=tenant, json={"to": NEW_YORK})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "body"]


async def test_a_tenant_without_numbers_is_told_to_register_one(suite, admin_headers):
    _, client = suite
    resp = await client.post("/v1/tenants", headers=admin_headers,
                             json={"id": "bare", "name": "B", "brand": "B"})
    headers = {"Authorization": f"Bearer {resp.json()['api_key']}"}
    resp = await client.post("/v1/messages", headers=headers, json={"to": NEW_YORK, "body": "hi"})
    assert resp.status_code == 422 and "no registered sending number" in resp.json()["detail"]


async def test_a_one_off_message_is_sent_through_the_carrier_and_its_history_is_shown(suite, tenant):
    app, client = suite
    app.state.ctx.clock = Clock(NOON_NY)
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        sent = await send(client, tenant, NEW_YORK, "Your code is 1234", **{"from": NUMBERS["twilio"]},
                          kind="transactional")
    assert sent["status"] == "sent" and sent["carrier"] == "twilio"
    assert sent["carrier_message_id"] in fake.sent and fake.sent[sent["carrier_message_id"]]["to"] == NEW_YORK
    got = await message(client, tenant, sent["id"])
    assert [h["status"] for h in got["history"]] == ["accepted", "sending", "sent"]
    assert got["history"][1]["reason"] == f"via twilio from {NUMBERS['twilio']}"
    assert (got["segments"], got["encoding"], got["delivery_status"]) == (1, "GSM-7", "queued")


async def test_marketing_goes_through_quiet_hours_like_any_other(suite, tenant):
    app, client = suite
    app.state.ctx.clock = Clock(datetime(2026, 11, 21, 4, tzinfo=UTC))  # 23:00 in New York
    await subscribe(app.state.ctx, "acme", NEW_YORK)
    held = await send(client, tenant, NEW_YORK, "Sale!")
    assert (held["status"], held["rule"], held["next_attempt_at"]) == ("deferred", "quiet_hours",
                                                                       "2026-11-21T13:00:00Z")


async def test_an_idempotency_key_sends_once_and_returns_the_first_message(suite, tenant):
    app, client = suite
    app.state.ctx.clock = Clock(NOON_NY)
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        payload = {"to": NEW_YORK, "body": "Order shipped", "from": NUMBERS["twilio"],
                   "kind": "transactional"}
        headers = {**tenant, "Idempotency-Key": "order-77-shipped"}
        first = await client.post("/v1/messages", headers=headers, json=payload)
        again = await client.post("/v1/messages", headers=headers, json=payload)
        other = await client.post("/v1/messages", headers=headers, json={**payload, "body": "Different"})
        assert len(fake.calls) == 1
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert other.status_code == 409


async def test_the_same_key_from_two_tenants_is_two_messages(suite, tenant, admin_headers):
    _, client = suite
    resp = await client.post("/v1/tenants", headers=admin_headers,
                             json={"id": "beta", "name": "B", "brand": "B"})
    beta = {"Authorization": f"Bearer {resp.json()['api_key']}"}
    await client.post("/v1/numbers", headers=beta, json={"number": "+15555550001", "carrier": "simulator"})
    payload = {"to": "+15555550100", "body": "hi", "kind": "transactional"}
    a = await client.post("/v1/messages", headers={**tenant, "Idempotency-Key": "k"}, json=payload)
    b = await client.post("/v1/messages", headers={**beta, "Idempotency-Key": "k"}, json=payload)
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    assert (await client.get(f"/v1/messages/{a.json()['id']}", headers=beta)).status_code == 404


async def test_settings_are_validated_and_shape_the_checks(suite, tenant):
    app, client = suite
    app.state.ctx.clock = Clock(NOON_NY)
    await subscribe(app.state.ctx, "acme", NEW_YORK)
    assert (await client.get("/v1/messages/settings", headers=tenant)).json()["quiet_hours_start"] == "08:00"
    bad = await client.put("/v1/messages/settings", headers=tenant,
                           json={"quiet_hours_start": "22:00", "quiet_hours_end": "06:00"})
    assert bad.status_code == 422
    ok = await client.put("/v1/messages/settings", headers=tenant,
                          json={"max_marketing_per_day": 2, "replace_lookalikes": False})
    assert ok.status_code == 200 and ok.json()["max_marketing_per_day"] == 2

    outcomes = [(await send(client, tenant, NEW_YORK, f"Offer {n}"))["status"] for n in range(3)]
    assert outcomes == ["sent", "sent", "suppressed"]
    capped = (await client.get("/v1/messages", headers=tenant, params={"status": "suppressed"})).json()
    assert capped[0]["rule"] == "frequency_cap" and "cap 2" in capped[0]["reason"]
    reply = await send(client, tenant, NEW_YORK, "Your order shipped", kind="transactional")
    assert reply["status"] == "sent"  # caps are for marketing only
    curly = await send(client, tenant, "+15555550100", "Don\u2019t miss it", kind="transactional")
    assert (curly["encoding"], curly["text"]) == ("UCS-2", "Don\u2019t miss it")


async def test_look_alikes_are_replaced_by_default_so_the_message_stays_gsm7(suite, tenant):
    _, client = suite
    sent = await send(client, tenant, "+15555550100", "We\u2019re open \u2014 come by\u2026",
                      kind="transactional")
    assert (sent["text"], sent["encoding"], sent["segments"]) == ("We're open - come by...", "GSM-7", 1)
    assert sent["body"] == "We\u2019re open \u2014 come by\u2026"


async def test_numbers_register_with_carrier_type_and_rate_and_can_be_removed(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/numbers", headers=tenant, json={
        "number": "+18005550100", "carrier": "twilio", "number_type": "toll_free", "rate_per_s": 3})
    assert resp.status_code == 201 and resp.json()["rate_per_s"] == 3
    dup = await client.post("/v1/numbers", headers=tenant,
                            json={"number": "+18005550100", "carrier": "twilio"})
    assert dup.status_code == 409
    bad = await client.post("/v1/numbers", headers=tenant, json={"number": "+18005550101", "carrier": "acme"})
    assert bad.status_code == 422
    listed = {n["number"]: n for n in (await client.get("/v1/numbers", headers=tenant)).json()}
    assert listed["+18005550100"]["number_type"] == "toll_free"
    assert (await client.delete("/v1/numbers/+18005550100", headers=tenant)).status_code == 204
    assert (await client.delete("/v1/numbers/+18005550100", headers=tenant)).status_code == 404


async def test_the_carrier_http_pool_is_closed_when_the_service_stops(settings):
    from libs.common.testing.app import running
    from services.embedded import all_services
    from services.sender.attempt import tools

    async with running(all_services(), settings) as (app, _):
        pool = tools(app.state.ctx).http
        assert not pool.is_closed
    assert pool.is_closed
