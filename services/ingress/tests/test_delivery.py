"""Through the HTTP endpoint to the bus: each genuine message is published exactly once, a bus or
database outage is a 503 the carrier retries, and the answer is the carrier's own ack."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from libs.common.bus import BusUnavailable
from libs.common.events import sms_inbound, sms_status
from libs.common.events.base import utcnow
from libs.common.observability import WEBHOOK_SECONDS
from services.ingress import store
from services.ingress.carriers.harness import (
    TENANT,
    read_payload,
    signed_request,
)

TWILIO_PHONE = "+14133881111"


async def post(client, carrier: str, kind: str, payload: str, *, base_url: str = "http://parley.test",
               sign: bool = True, now: datetime | None = None, **kwargs):
    """Send `payload` (a testdata file or a body) as `carrier` would, signed at `now` (the app's
    clock is the real one)."""
    body = read_payload(carrier, payload) if payload.endswith((".txt", ".json")) else payload
    signed = signed_request(carrier, kind, body, base_url=base_url, sign=sign, now=now or utcnow(),
                            **kwargs)
    return await client.post(signed.url.removeprefix(base_url), content=signed.body,
                             headers=signed.headers)


@pytest.fixture
def client(ingress):
    return ingress[1]


async def test_the_same_twilio_message_posted_three_times_is_one_event_answered_with_twiml(client, probe):
    for _ in range(3):
        resp = await post(client, "twilio", "inbound", "inbound_sms.txt")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/xml")
        assert resp.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    events = await probe.settle(sms_inbound.TOPIC, TWILIO_PHONE)
    assert [(e.carrier, e.carrier_message_id, e.body) for e in events] == [
        ("twilio", "SMe287d7109a5a925f182f0e07fe5b223b", "Msg")]


async def test_concurrent_copies_of_one_message_publish_it_once(client, probe):
    responses = await asyncio.gather(*(post(client, "twilio", "inbound", "inbound_mms.txt")
                                       for _ in range(5)))
    # One copy publishes; one that finds it still being published is told to retry.
    assert 200 in {r.status_code for r in responses}
    in_flight = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 503 and r.headers["retry-after"] for r in in_flight)
    for _ in in_flight:  # the carrier's retries find it accepted
        assert (await post(client, "twilio", "inbound", "inbound_mms.txt")).status_code == 200
    events = await probe.settle(sms_inbound.TOPIC, TWILIO_PHONE)
    assert len(events) == 1 and events[0].media_urls == ["cat.jpg", "dog.jpg"]


async def test_a_bus_outage_is_a_503_and_the_carriers_retry_is_accepted_once(ingress, client, probe,
                                                                              monkeypatch):
    app, _ = ingress
    bus = app.state.ctx.bus
    real_emit_many = bus.emit_many  # what ingress publishes through

    async def broken(*args, **kwargs):
        raise BusUnavailable("broker down")

    monkeypatch.setattr(bus, "emit_many", broken)
    resp = await post(client, "telnyx", "inbound", "inbound.json")
    assert resp.status_code == 503 and resp.headers["retry-after"]
    assert resp.json()["code"] == "unavailable"

    monkeypatch.setattr(bus, "emit_many", real_emit_many)
    assert (await post(client, "telnyx", "inbound", "inbound.json")).status_code == 200
    assert (await post(client, "telnyx", "inbound", "inbound.json")).status_code == 200
    events = await probe.settle(sms_inbound.TOPIC, "+13125550001")
    assert [e.body for e in events] == ["Hello from Telnyx!"]


async def test_a_database_outage_is_a_503_not_a_500(ingress, client, monkeypatch):
    app, _ = ingress

    def down():
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database down"))

    monkeypatch.setattr(app.state.ctx, "sessions", down)
    resp = await post(client, "twilio", "inbound", "inbound_sms.txt")
    assert resp.status_code == 503 and resp.headers["retry-after"]


async def test_a_retry_of_an_accepted_receipt_publishes_nothing(client, probe):
    for _ in range(2):
        assert (await post(client, "twilio", "status", "status_opted_out.txt")).status_code == 200
    events = await probe.settle(sms_status.TOPIC, "+12028831111")
    assert [(e.status, e.error_code, e.recipient_opted_out) for e in events] == [("failed", "21610", True)]


async def test_telnyx_redelivery_and_out_of_order_receipts(client, probe):
    for name in ("finalized.json", "sent.json", "finalized.json"):  # finalized first, then again
        assert (await post(client, "telnyx", "status", name)).status_code == 200
    events = await probe.settle(sms_status.TOPIC, "+13125550002")
    assert sorted((e.status, e.carrier_occurred_at.isoformat()) for e in events) == [
        ("delivered", "2024-01-15T21:32:14.148000+00:00"), ("sent", "2024-01-15T21:32:13.596000+00:00")]


async def test_one_bandwidth_array_becomes_several_events(client, probe):
    resp = await post(client, "bandwidth", "inbound", "group_inbound_and_receipt.json")
    assert resp.status_code == 200, resp.text
    inbound = await probe.settle(sms_inbound.TOPIC, "+12065551234")
    status = await probe.settle(sms_status.TOPIC, "+12065551234")
    assert sorted(e.to for e in inbound) == ["+12345678902", "+12345678903"]
    assert [(e.status, e.carrier_message_id) for e in status] == [("delivered", "12346")]


async def test_without_a_message_id_a_retry_within_the_window_is_recognised_by_its_content(client, probe):
    for _ in range(2):
        assert (await post(client, "generic", "inbound", "inbound_no_id.json")).status_code == 200
    different = '{"from": "+15555550100", "to": "+15555550000", "body": "NO"}'
    assert (await post(client, "generic", "inbound", different)).status_code == 200
    events = await probe.settle(sms_inbound.TOPIC, "+15555550100")
    assert sorted(e.body for e in events) == ["NO", "YES"]


async def test_a_vonage_get_webhook_is_accepted(client, probe):
    signed = signed_request("vonage", "inbound", read_payload("vonage", "inbound_get.txt"), method="GET",
                            base_url="http://parley.test", now=utcnow())
    resp = await client.get(signed.url.removeprefix("http://parley.test"), headers=signed.headers)
    assert resp.status_code == 200, resp.text
    events = await probe.settle(sms_inbound.TOPIC, "+2349067554729")
    assert [(e.body, e.to, e.to_is_short_code) for e in events] == [("Join", "2020", True)]


async def test_signatures_are_checked_against_the_public_url_behind_a_proxy(ingress, client, probe):
    app, _ = ingress
    public = "https://sms.acme.example"
    # The carrier signed the public URL; the request reaches Parley on its private address.
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.acme.example"}
    signed = signed_request("twilio", "inbound", read_payload("twilio", "inbound_sms.txt"),
                            base_url=public, now=utcnow())
    path = signed.url.removeprefix(public)
    assert (await client.post(path, content=signed.body, headers=signed.headers)).status_code == 403
    resp = await client.post(path, content=signed.body, headers={**signed.headers, **forwarded})
    assert resp.status_code == 200, resp.text

    app.state.ctx.settings.public_base_url = public + "/"
    try:
        resp = await client.post(path, content=signed.body, headers=signed.headers)
        assert resp.status_code == 200, resp.text
    finally:
        app.state.ctx.settings.public_base_url = None


async def test_a_stale_telnyx_timestamp_is_refused_against_the_apps_clock(ingress, client, probe):
    app, _ = ingress
    resp = await post(client, "telnyx", "inbound", "inbound.json",
                      now=app.state.ctx.clock() - timedelta(minutes=6))
    assert resp.status_code == 403 and resp.json()["code"] == "stale_timestamp"


async def test_the_time_to_answer_is_measured(client):
    def count() -> float:
        return sum(s.value for m in WEBHOOK_SECONDS.collect() for s in m.samples
                   if s.name.endswith("_count") and s.labels.get("carrier") == "plivo")

    before = count()
    assert (await post(client, "plivo", "inbound", "inbound.txt")).status_code == 200
    assert count() == before + 1


async def test_dedup_keys_are_remembered_durably(ingress, client):
    app, _ = ingress
    assert (await post(client, "bandwidth", "inbound", "inbound.json")).status_code == 200
    async with app.state.ctx.sessions() as session:
        keys = await store.dedup_keys(session, TENANT, "bandwidth")
    assert keys == ["14762070468292kw2fuqty55yp2b2"]
