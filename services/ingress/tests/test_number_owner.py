"""A subscriber's message to a number another tenant registered is never routed to the tenant
whose webhook it came in on: it is acknowledged (so the carrier does not retry it), published
nowhere, logged and counted."""

from __future__ import annotations

import structlog
from prometheus_client import REGISTRY
from sqlalchemy import delete

from libs.common.db.models.sender import SendingNumber
from libs.common.events import sms_inbound
from libs.common.testing.app import eventually
from services.ingress.carriers.harness import read_payload, signed_request
from services.ingress.tests.support import add_tenant

ACME_NUMBER = "+15555550000"
NOBODYS_NUMBER = "+15555559999"
PHONE = "+15555550100"


async def own(ctx, tenant_id: str, number: str) -> None:
    """Test setup straight into the sender's table (ingress only reads it)."""
    async with ctx.sessions() as session, session.begin():
        await session.execute(delete(SendingNumber).where(SendingNumber.number == number))
        session.add(SendingNumber(tenant_id=tenant_id, number=number, carrier="simulator",
                                  number_type="long_code", is_default=False, created_at=ctx.clock()))


def foreign_count(carrier: str) -> float:
    return REGISTRY.get_sample_value("parley_webhooks_total", {
        "carrier": carrier, "kind": "inbound", "outcome": "foreign_number"}) or 0.0


async def inbound(client, tenant_id: str, to: str, body: str, message_id: str):
    resp = await client.post(f"/webhooks/simulator/{tenant_id}/inbound",
                             json={"from": PHONE, "to": to, "body": body, "id": message_id})
    assert resp.status_code == 200, resp.text
    return resp


async def published_on(probe, tenant_id: str) -> list[str]:
    """Bodies `tenant_id` got for PHONE, up to a marker sent after everything else on that key."""
    marker = f"marker-{len(probe.events[sms_inbound.TOPIC])}"
    await inbound(probe.client, tenant_id, NOBODYS_NUMBER, marker, marker)

    async def arrived() -> bool:
        return any(e.body == marker for e in probe.events[sms_inbound.TOPIC])

    await eventually(arrived)
    return [e.body for e in probe.events[sms_inbound.TOPIC]
            if e.tenant_id == tenant_id and e.phone == PHONE and not e.body.startswith("marker-")]


async def test_a_message_to_another_tenants_number_is_acknowledged_logged_and_routed_nowhere(
        ingress, probe):
    app, client = ingress
    ctx = app.state.ctx
    await add_tenant(ctx, "beta")
    await own(ctx, "acme", ACME_NUMBER)
    before = foreign_count("simulator")
    with structlog.testing.capture_logs() as logs:
        resp = await inbound(client, "beta", ACME_NUMBER, "HELP", "m1")
    assert resp.json() == {"status": "accepted"}  # the carrier's usual ack: nothing to retry
    assert foreign_count("simulator") == before + 1
    (line,) = [entry for entry in logs if entry["event"] == "inbound_foreign_number"]
    assert (line["tenant"], line["to"], line["carrier_message_id"]) == ("beta", ACME_NUMBER, "m1")
    assert PHONE not in str(line)  # the subscriber's number is masked
    assert await published_on(probe, "beta") == []
    assert await published_on(probe, "acme") == []


async def test_a_signed_carrier_webhook_to_another_tenants_number_gets_the_carriers_ack(ingress, probe):
    app, client = ingress
    ctx = app.state.ctx
    await add_tenant(ctx, "beta")
    await own(ctx, "acme", "+12028831111")  # the To of the Twilio sample
    signed = signed_request("twilio", "inbound", read_payload("twilio", "inbound_sms.txt"),
                            tenant="beta", base_url="http://parley.test")
    before = foreign_count("twilio")
    resp = await client.post(signed.url.removeprefix("http://parley.test"), content=signed.body,
                             headers=signed.headers)
    assert resp.status_code == 200 and "<Response" in resp.text
    assert foreign_count("twilio") == before + 1


async def test_messages_to_the_tenants_own_or_an_unregistered_number_are_routed(ingress, probe):
    app, client = ingress
    await own(app.state.ctx, "acme", ACME_NUMBER)
    await inbound(client, "acme", ACME_NUMBER, "mine", "m1")
    await inbound(client, "acme", "+15555558888", "nobody's", "m2")
    assert await published_on(probe, "acme") == ["mine", "nobody's"]


async def test_a_number_that_changed_tenants_is_routed_to_its_new_owner_at_once(ingress, probe):
    app, client = ingress
    ctx = app.state.ctx
    await add_tenant(ctx, "beta")
    await own(ctx, "acme", ACME_NUMBER)
    await inbound(client, "acme", ACME_NUMBER, "to acme", "m1")  # acme's ownership is now in memory
    await own(ctx, "beta", ACME_NUMBER)
    await inbound(client, "beta", ACME_NUMBER, "to beta", "m2")
    await inbound(client, "acme", ACME_NUMBER, "to acme again", "m3")
    assert await published_on(probe, "beta") == ["to beta"]
    assert await published_on(probe, "acme") == ["to acme"]


class _Ctx:
    """Just enough of a Ctx for the cache: sessions whose queries answer from `owners`."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners, self.reads = owners, 0
        self.state: dict = {}

    def sessions(self):
        ctx = self

        class Session:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            async def scalar(self, query):
                ctx.reads += 1
                return ctx.owners.get(query.compile().params["number_1"])

        return Session()


async def test_a_kept_owner_expires_and_a_refusal_is_re_read_before_it_is_given():
    from services.ingress.numbers import TTL_S, NumberOwners

    now = [0.0]
    ctx = _Ctx({ACME_NUMBER: "acme"})
    cache = NumberOwners(clock=lambda: now[0])
    assert not await cache.is_foreign(ctx, "acme", ACME_NUMBER)
    assert not await cache.is_foreign(ctx, "acme", NOBODYS_NUMBER)
    assert not await cache.is_foreign(ctx, "acme", ACME_NUMBER)  # kept: no query on the hot path
    assert ctx.reads == 2
    ctx.owners[ACME_NUMBER] = "beta"  # moved: the kept "acme" would refuse beta, so it is re-read
    assert not await cache.is_foreign(ctx, "beta", ACME_NUMBER)
    assert ctx.reads == 3
    ctx.owners[NOBODYS_NUMBER] = "beta"  # registered by another tenant: kept "nobody's" for TTL_S
    assert not await cache.is_foreign(ctx, "acme", NOBODYS_NUMBER)
    now[0] += TTL_S
    assert await cache.is_foreign(ctx, "acme", NOBODYS_NUMBER)
    assert ctx.reads == 4
