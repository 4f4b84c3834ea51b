"""The generic webhook route with the simulated carrier: bad input is a 4xx with a reason, a
retry publishes nothing twice, and a bus outage is a 503 so the carrier retries."""

from __future__ import annotations

import pytest

from libs.common.bus import BusUnavailable
from libs.common.events import sms_inbound
from libs.common.testing.app import eventually

URL = "/webhooks/simulator/acme/inbound"
GOOD = {"from": "+15555550100", "to": "+15555550000", "body": "hi"}


@pytest.fixture
async def published(suite):
    """Every sms.inbound event on the bus, seen by a probe consumer group of its own."""
    app, _ = suite
    seen = []

    async def probe(event):
        seen.append(event)

    await app.state.ctx.bus.consume(sms_inbound.TOPIC, "test-probe", probe)
    return seen


async def only_marker_published(client, published):
    """Send a good marker message and wait for it: whatever came before it was published too."""
    resp = await client.post(URL, json={**GOOD, "body": "marker"})
    assert resp.status_code == 200
    await eventually(lambda: _async(any(e.body == "marker" for e in published)))
    return [e.body for e in published]


async def _async(value):
    return value


@pytest.mark.parametrize("url, kwargs, status, reason", [
    ("/webhooks/simulator/nobody/inbound", {"json": GOOD}, 404, "unknown tenant"),
    ("/webhooks/pigeon/acme/inbound", {"json": GOOD}, 404, "unknown carrier"),
    (URL, {"content": b"{bad json", "headers": {"content-type": "application/json"}}, 400,
     "malformed JSON"),
    (URL, {"content": b"from=1", "headers": {"content-type": "application/x-www-form-urlencoded"}},
     415, "application/json"),
    (URL, {"json": ["a list"]}, 400, "object"),
    (URL, {"json": {"to": "+15555550000", "body": "x"}}, 422, "'from'"),
    (URL, {"json": {**GOOD, "from": "call me maybe"}}, 422, "'from'"),
    (URL, {"json": {**GOOD, "from": "12345"}}, 422, "short code"),
    (URL, {"json": {**GOOD, "body": 5}}, 422, "'body'"),
    (URL, {"json": {**GOOD, "body": "x" * 70000}}, 413, "64 KiB"),
], ids=["unknown tenant", "unknown carrier", "malformed json", "wrong content type", "not an object",
        "missing from", "unparseable phone", "short code sender", "non-string body", "huge body"])
async def test_bad_webhooks_get_a_clear_4xx_and_publish_nothing(suite, tenant, published, url,
                                                                kwargs, status, reason):
    _, client = suite
    resp = await client.post(url, **kwargs)
    assert resp.status_code == status, resp.text
    assert reason in resp.json()["detail"]
    assert await only_marker_published(client, published) == ["marker"]


async def test_a_bus_outage_answers_503_and_the_retry_is_accepted_once(suite, tenant, published,
                                                                       monkeypatch):
    app, client = suite
    bus = app.state.ctx.bus
    real_emit_many = bus.emit_many  # what ingress publishes through

    async def broken(*args, **kwargs):
        raise BusUnavailable("broker down")

    monkeypatch.setattr(bus, "emit_many", broken)
    payload = {**GOOD, "id": "retry-me"}
    resp = await client.post(URL, json=payload)
    assert resp.status_code == 503
    assert resp.headers["retry-after"]

    monkeypatch.setattr(bus, "emit_many", real_emit_many)
    assert (await client.post(URL, json=payload)).status_code == 200
    assert (await client.post(URL, json=payload)).status_code == 200
    assert await only_marker_published(client, published) == ["hi", "marker"]


async def test_the_simulator_is_not_served_when_switched_off(suite, tenant):
    app, client = suite
    app.state.ctx.settings.simulator = False
    try:
        assert (await client.post(URL, json=GOOD)).status_code == 404
        assert (await client.get("/simulator/acme/outbox")).status_code == 404
    finally:
        app.state.ctx.settings.simulator = True
