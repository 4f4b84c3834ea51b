"""Test support: a tenant set up straight in the database, and a probe that sees what ingress
published through consumer groups of the test's own (memory bus and Kafka alike)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from libs.common.db.models.tenancy import CarrierCredential, Tenant
from libs.common.events import link_clicked, sms_inbound, sms_status
from libs.common.secrets import CredentialBox
from libs.common.service import Ctx
from libs.common.testing.app import eventually
from services.ingress.carriers.harness import CREDENTIALS, TENANT

TOPICS = (sms_inbound.TOPIC, sms_status.TOPIC, link_clicked.TOPIC)


async def add_tenant(ctx: Ctx, tenant_id: str = TENANT,
                     credentials: dict[str, dict[str, str]] | None = None) -> None:
    """Test setup straight into the router's tables (ingress only reads them)."""
    box = CredentialBox(ctx.settings.secret_key.get_secret_value())
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        session.add(Tenant(id=tenant_id, name=tenant_id, brand=tenant_id, created_at=now))
        await session.flush()
        for carrier, values in (CREDENTIALS if credentials is None else credentials).items():
            if values:
                session.add(CarrierCredential(tenant_id=tenant_id, carrier=carrier,
                                              encrypted=box.seal(values), updated_at=now))


@dataclass
class Probe:
    """Every event on ingress's topics, seen by consumer groups of its own."""

    client: object
    events: dict[str, list] = field(default_factory=lambda: defaultdict(list))

    async def settle(self, topic: str, phone: str) -> list:
        """Publish a marker on `phone`'s key through the simulator and wait for it: the events
        before it on that key were consumed too. Returns the topic's events without the marker."""
        marker = f"marker-{len(self.events[topic])}"
        kind = "inbound" if topic == sms_inbound.TOPIC else "status"
        body = ({"from": phone, "to": "+15555550000", "body": "marker", "id": marker}
                if kind == "inbound" else {"to": phone, "id": marker, "status": "delivered"})
        resp = await self.client.post(f"/webhooks/simulator/{TENANT}/{kind}", json=body)
        assert resp.status_code == 200, resp.text

        async def arrived() -> bool:
            return any(e.carrier_message_id == marker for e in self.events[topic])

        await eventually(arrived)
        return [e for e in self.events[topic] if not e.carrier_message_id.startswith("marker-")]

    @classmethod
    async def attach(cls, app, client) -> Probe:
        probe = cls(client)
        for topic in TOPICS:
            async def record(event, topic=topic):
                probe.events[topic].append(event)

            await app.state.ctx.bus.consume(topic, f"test-probe-{topic}", record)
        return probe
