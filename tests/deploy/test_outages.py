"""A running service through a broker restart and a database restart, as a real process with
PARLEY_LOG_FORMAT=json (production profile only).

- Every line it writes is JSON: its own, uvicorn's (access lines too), alembic's migrations and
  aiokafka's; aiokafka's repeated connection errors are one `kafka_connection_lost` and one
  `kafka_connection_restored` line, counted in `parley_kafka_client_errors_total`.
- Its consumers carry on once the broker is back, and an event that arrives while the database
  is down is handled once it is back, not dead-lettered.

The broker is a private one (stopped and started again by pid, same address and data); the
database is reached through a TCP gate that drops every connection and refuses new ones.
"""

from __future__ import annotations

import json
import sys
import uuid

import pytest
from sqlalchemy.engine import make_url

from libs.common.bus.kafka import KafkaBus
from libs.common.events import sms_inbound, sms_outbound
from libs.common.testing.app import eventually
from libs.common.testing.profiles import PRODUCTION, fresh_postgres, production_env
from libs.common.testing.servers import ScriptBroker, TcpGate
from tests.deploy.processes import PARTITIONS, Process, free_port, http, service_env

ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def servers(profile):
    if profile != PRODUCTION:
        pytest.skip("a real broker and database to take away (production profile)")
    return production_env()


@pytest.fixture
async def private_broker(servers, tmp_path):
    broker = ScriptBroker(tmp_path / "run")
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


class Phone:
    """Texts HELP to the router over the bus and collects what the router sends back."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bus = KafkaBus(bootstrap, partitions=PARTITIONS, topic_prefix=prefix, client_id="phone")
        self.replies: list[str] = []

    async def __aenter__(self) -> Phone:
        await self.bus.start()

        async def got(event: sms_outbound.SendSms) -> None:
            self.replies.append(event.body)

        await self.bus.consume(sms_outbound.TOPIC, "phone", got)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.bus.stop()

    async def help(self) -> None:
        await self.bus.emit(sms_inbound.InboundSms(
            tenant_id="acme", phone="+15555550100", to="+15555550000", body="HELP", carrier="simulator",
            carrier_message_id=uuid.uuid4().hex))

    async def answered(self, n: int, timeout: float = 60) -> None:
        async def enough():
            return len(self.replies) >= n
        await eventually(enough, timeout=timeout)


async def router_with_tenant(proc: Process, port: int) -> None:
    await proc.until(lambda: _ready(port), "/readyz 200")
    created = await http(port, "POST", "/v1/tenants", headers=ADMIN,
                         json={"id": "acme", "name": "Acme", "brand": "Acme Shoes"})
    assert created.status_code == 201, created.text


async def _ready(port: int) -> bool:
    resp = await http(port, "GET", "/readyz")
    return resp is not None and resp.status_code == 200


async def kafka_client_errors(port: int) -> float:
    resp = await http(port, "GET", "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in resp.text.splitlines()
               if line.startswith("parley_kafka_client_errors_total{"))


def env_for(tmp_path, port: int, bootstrap: str, db_url: str, prefix: str) -> dict[str, str]:
    return service_env(tmp_path, port, PARLEY_BUS="kafka", PARLEY_KAFKA_BOOTSTRAP=bootstrap,
                       PARLEY_DATABASE_URL=db_url, PARLEY_TOPIC_PREFIX=prefix,
                       PARLEY_ADMIN_TOKEN="test-admin-token", PARLEY_MIGRATE_ON_START="true")


async def test_a_broker_restart_is_two_json_lines_and_the_consumers_carry_on(servers, private_broker,
                                                                             tmp_path):
    url, _ = servers
    prefix = f"o{uuid.uuid4().hex[:10]}."
    async with fresh_postgres(url) as db_url:
        port = free_port()
        proc = Process([sys.executable, "-m", "services.router"],
                       env_for(tmp_path, port, private_broker.bootstrap, db_url, prefix))
        try:
            await router_with_tenant(proc, port)
            async with Phone(private_broker.bootstrap, prefix) as phone:
                await phone.help()
                await phone.answered(1)

                # A fresh broker may have had a moment (its group coordinator loading): wait until
                # that is restored, or the stop below would log no new loss.
                await proc.until(lambda: _linked(proc), "every earlier kafka_connection_lost restored")
                lost_before = len(proc.named("kafka_connection_lost"))
                await private_broker.stop(keep=True)

                async def erring():  # aiokafka keeps failing, many times over
                    return await kafka_client_errors(port) >= 20
                await proc.until(erring, "twenty Kafka client errors")
                await private_broker.restart()
                await proc.until(lambda: _restored(proc, port, lost_before + 1),
                                 "kafka_connection_restored and /readyz 200")

                await phone.help()
                await phone.answered(2, timeout=120)
        finally:
            code = await proc.stop_async()
    assert code == 0, proc.output()

    lines = [line for line in proc.lines if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, or this raises
    assert all(isinstance(r, dict) and "event" in r and "level" in r for r in records)
    loggers = {r.get("logger", "") for r in records}
    for library in ("alembic.runtime.migration", "uvicorn.access", "uvicorn.error"):
        assert library in loggers, sorted(loggers)
    assert any(name.startswith("aiokafka") for name in loggers), sorted(loggers)
    access = [r for r in records if r.get("logger") == "uvicorn.access"]
    assert {(r["method"], r["path"], r["status"]) for r in access} >= {("POST", "/v1/tenants", 201)}
    assert sum("Unable to update metadata" in line for line in lines) <= 2, proc.output()
    # The restart, and on a fresh broker its first seconds (the group coordinator loading).
    assert len(proc.named("kafka_connection_lost")) in (1, 2), proc.output()
    assert len(proc.named("kafka_connection_restored")) == len(proc.named("kafka_connection_lost"))


async def _linked(proc: Process) -> bool:
    return len(proc.named("kafka_connection_restored")) == len(proc.named("kafka_connection_lost"))


async def _restored(proc: Process, port: int, outages: int) -> bool:
    """Every lost connection restored, the last after the broker restart, and ready."""
    lost, restored = proc.named("kafka_connection_lost"), proc.named("kafka_connection_restored")
    return len(lost) >= outages and len(restored) == len(lost) and await _ready(port)


async def test_an_event_that_arrives_while_the_database_is_down_is_handled_once_it_is_back(
        servers, tmp_path):
    url, bootstrap = servers
    prefix = f"d{uuid.uuid4().hex[:10]}."
    async with fresh_postgres(url) as db_url:
        parsed = make_url(db_url)
        async with TcpGate(parsed.host, parsed.port, free_port()) as gate:
            gate.forward()
            port = free_port()
            gated = parsed.set(host="127.0.0.1", port=gate.port).render_as_string(hide_password=False)
            proc = Process([sys.executable, "-m", "services.router"],
                           env_for(tmp_path, port, bootstrap, gated, prefix))
            try:
                await router_with_tenant(proc, port)
                async with Phone(bootstrap, prefix) as phone:
                    await phone.help()
                    await phone.answered(1)

                    gate.refuse()  # PostgreSQL goes away: connections dropped, new ones refused
                    refused = gate.refused
                    await phone.help()

                    async def handler_retried():
                        return gate.refused >= refused + 3
                    await proc.until(handler_retried, "the router to try the database three times")
                    assert len(phone.replies) == 1
                    gate.forward()
                    await phone.answered(2)
                    assert (await http(port, "GET", "/readyz")).status_code == 200
            finally:
                code = await proc.stop_async()
    assert code == 0, proc.output()
    assert proc.named("dead_lettered") == [], proc.output()
    assert len(proc.named("consumer_waiting")) == 1 and len(proc.named("consumer_resumed")) == 1
