"""Kafka stopped while webhooks arrive: carriers are told 503 (at once, once the producer knows the
broker is gone) and nothing holds a database connection meanwhile; their retries once Kafka is back
are accepted, each published as one event (production profile only).

The broker is a private one (`scripts/kafka.sh` with a run directory of the test's own), so the
shared broker other tests use is never touched. It is stopped by its pid and started again with
the very command line and data it had, as a restarted broker comes back at the same address.
"""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from libs.common.db.session import make_engine, make_sessionmaker
from libs.common.events import sms_inbound
from libs.common.events.base import utcnow
from libs.common.testing.app import eventually, running
from services.ingress.app import service
from services.ingress.carriers.harness import TENANT, read_payload, signed_request
from services.ingress.intake import stable_id
from services.ingress.tests.support import Probe, add_tenant

BEFORE = "95ddb286-0866-4960-c78a-5841e8f69bb4"  # inbound_mms.json
RETRIED = "84cca175-9755-4859-b67f-4730d7f58aa3"  # inbound.json
BASE = "http://parley.test"


@pytest.fixture
async def private_broker(own_broker):
    """The test's own broker, started (the shared one is never stopped)."""
    await own_broker.start()
    return own_broker


async def send(client, payload: str):
    signed = signed_request("telnyx", "inbound", read_payload("telnyx", payload), base_url=BASE,
                            now=utcnow())
    return await client.post(signed.url.removeprefix(BASE), content=signed.body, headers=signed.headers)


def outcomes() -> dict[str, float]:
    return {outcome: REGISTRY.get_sample_value("parley_webhooks_total", {
        "carrier": "telnyx", "kind": "inbound", "outcome": outcome}) or 0.0
        for outcome in ("accepted", "duplicate", "unavailable")}


async def test_kafka_down_is_a_503_and_the_retry_once_it_is_back_is_accepted_once(settings, private_broker):
    own = settings.model_copy(update={"kafka_bootstrap": private_broker.bootstrap})
    async with running([service()], own) as (app, client):
        bus = app.state.ctx.bus
        await add_tenant(app.state.ctx)
        probe = await Probe.attach(app, client)
        assert (await send(client, "inbound_mms.json")).status_code == 200  # before the outage

        await private_broker.stop(keep=True)
        before = outcomes()
        down = await send(client, "inbound.json")
        assert down.status_code == 503 and down.headers["retry-after"]
        assert down.json()["code"] == "unavailable"

        await private_broker.restart()
        # Back once the producer's probe finds a leader for every partition it publishes to:
        # until then a webhook is refused at once, as a publish would fail.
        await eventually(lambda: _async(bus.available()), timeout=120)
        retry = await send(client, "inbound.json")
        assert retry.status_code == 200, retry.text
        assert (await send(client, "inbound.json")).status_code == 200  # a later duplicate
        after = outcomes()
        assert {k: after[k] - before[k] for k in after} == {"accepted": 1, "duplicate": 1, "unavailable": 1}

        events = await probe.settle(sms_inbound.TOPIC, "+13125550001")
        # The 503'd attempt may still reach the broker once it is back (the idempotent producer
        # retries what it held); it carries the accepted retry's event id, which is what consumers
        # deduplicate on. So: the message before the outage and the retried one, one id each.
        assert {(e.carrier_message_id, e.event_id) for e in events} == {
            (message_id, stable_id(TENANT, "telnyx", message_id)) for message_id in (BEFORE, RETRIED)}


PHONE = "+15555550188"
WAVE = 20


async def simulated(client, message_id: str):
    return await client.post(f"/webhooks/simulator/{TENANT}/inbound", json={
        "from": PHONE, "to": "+15555550000", "body": "YES", "id": message_id})


def unavailable_by_reason() -> dict[str, float]:
    return {reason: REGISTRY.get_sample_value("parley_webhooks_unavailable_total",
                                              {"reason": reason}) or 0.0
            for reason in ("bus_down", "bus", "database", "in_flight")}


async def _async(value):
    return value


async def test_while_kafka_is_down_concurrent_webhooks_get_503s_and_the_pool_stays_free(
        settings, private_broker):
    own = settings.model_copy(update={"kafka_bootstrap": private_broker.bootstrap})
    async with running([service()], own) as (app, client):
        ctx = app.state.ctx
        # Two connections, waited for 1 s at most: webhooks holding them across the broker's
        # timeout would starve the others into database errors.
        await ctx.engine.dispose()
        ctx.engine = make_engine(own.database_url, pool_size=2, max_overflow=0, pool_timeout=1)
        ctx.sessions = make_sessionmaker(ctx.engine)
        await add_tenant(ctx)
        probe = await Probe.attach(app, client)
        assert (await simulated(client, "before")).status_code == 200

        await private_broker.stop(keep=True)
        before = unavailable_by_reason()
        ids = [f"outage-{n}" for n in range(2 * WAVE)]
        # The first wave finds the producer still hopeful: each waits out the publish timeout
        # (with no connection held), and the first failure marks the bus down...
        first = await asyncio.wait_for(asyncio.gather(*(simulated(client, i) for i in ids[:WAVE])), 60)
        assert not ctx.bus.available()
        # ...so the second is refused at once. The bound is a test timeout, not a latency check.
        second = await asyncio.wait_for(asyncio.gather(*(simulated(client, i) for i in ids[WAVE:])), 60)
        assert {(r.status_code, r.headers["retry-after"]) for r in first + second} == {(503, "5")}
        after = unavailable_by_reason()
        delta = {reason: after[reason] - before[reason] for reason in after}
        assert delta["database"] == 0 and delta["in_flight"] == 0
        assert delta["bus"] + delta["bus_down"] == 2 * WAVE and delta["bus_down"] >= WAVE
        assert ctx.engine.pool.checkedout() == 0

        await private_broker.restart()
        await eventually(lambda: _async(ctx.bus.available()), timeout=120)  # the probe saw it back
        for message_id in ids:  # the carriers' retries
            assert (await simulated(client, message_id)).status_code == 200
        for message_id in ids[:3]:  # and a later duplicate publishes nothing
            assert (await simulated(client, message_id)).status_code == 200
        events = await probe.settle(sms_inbound.TOPIC, PHONE)
        # A timed-out attempt may still reach the broker once it is back, with the same event id.
        assert {(e.carrier_message_id, e.event_id) for e in events} == {
            (message_id, stable_id(TENANT, "simulator", message_id)) for message_id in ["before", *ids]}
