"""Kafka stopped while a webhook arrives: the carrier is told 503 and nothing is remembered, so its
retry once Kafka is back is accepted, and published as one event (production profile only).

The broker is a private one (`scripts/kafka.sh` with a run directory of the test's own), so the
shared broker other tests use is never touched. It is stopped by its pid and started again on its
data and ports (`kafka.sh restart`), as a restarted broker comes back at the same address.
"""

from __future__ import annotations

from prometheus_client import REGISTRY

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


async def send(client, payload: str):
    signed = signed_request("telnyx", "inbound", read_payload("telnyx", payload), base_url=BASE,
                            now=utcnow())
    return await client.post(signed.url.removeprefix(BASE), content=signed.body, headers=signed.headers)


def outcomes() -> dict[str, float]:
    return {outcome: REGISTRY.get_sample_value("parley_webhooks_total", {
        "carrier": "telnyx", "kind": "inbound", "outcome": outcome}) or 0.0
        for outcome in ("accepted", "duplicate", "unavailable")}


async def test_kafka_down_is_a_503_and_the_retry_once_it_is_back_is_accepted_once(settings, own_broker):
    await own_broker.start()
    own = settings.model_copy(update={"kafka_bootstrap": own_broker.bootstrap})
    async with running([service()], own) as (app, client):
        bus = app.state.ctx.bus
        await add_tenant(app.state.ctx)
        probe = await Probe.attach(app, client)
        assert (await send(client, "inbound_mms.json")).status_code == 200  # before the outage

        await own_broker.stop(keep=True)
        before = outcomes()
        down = await send(client, "inbound.json")
        assert down.status_code == 503 and down.headers["retry-after"]
        assert down.json()["code"] == "unavailable"

        await own_broker.restart()
        await eventually(bus.ready, timeout=120)
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
