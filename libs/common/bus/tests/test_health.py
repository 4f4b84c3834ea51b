"""The producer's health signal: a failed or timed-out publish turns the bus down (logged once),
and a publish that succeeds, or a background metadata probe that finds a leader for every
partition published to, brings it back (logged once). Kafka's producer is replaced by a fake, so
every transition is driven by hand; the real broker's outage is in tests/test_ingress_kafka_outage.py."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from structlog.testing import capture_logs

from libs.common.bus import BusUnavailable, kafka
from libs.common.bus.health import Health
from libs.common.bus.kafka import KafkaBus
from libs.common.events import TOPICS
from libs.common.events.sms_inbound import InboundSms
from libs.common.testing.app import eventually

EVENT = InboundSms(tenant_id="t1", phone="+15555550100", to="+15555550000", body="hi",
                   carrier="simulator", carrier_message_id="m1")


def leaders(missing: tuple[str, int] | None = None) -> Cluster:
    """Metadata for every topic under the prefix `p.`, two partitions each, one maybe leaderless."""
    return Cluster({f"p.{topic}": {p: (topic, p) != missing for p in (0, 1)} for topic in TOPICS})


def test_health_changes_only_on_the_first_failure_and_the_first_success_after_it():
    health = Health()
    steps = [health.succeeded(), health.failed("timeout"), health.failed("refused"),
             health.succeeded(), health.succeeded(), health.failed("refused")]
    assert steps == [False, True, False, True, False, True]
    assert (health.available, health.reason, health.changes) == (False, "refused", 3)


class Cluster:
    """Metadata naming, per topic, which partitions have a leader."""

    def __init__(self, leaders: dict[str, dict[int, bool]]) -> None:
        self.leaders = leaders

    def partitions_for_topic(self, topic):
        return set(self.leaders[topic]) if topic in self.leaders else None

    def available_partitions_for_topic(self, topic):
        return {p for p, led in self.leaders.get(topic, {}).items() if led}


class Client:
    def __init__(self) -> None:
        self.answer: BaseException | Cluster = KafkaConnectionError("refused")
        self.calls = 0

    async def fetch_all_metadata(self):
        self.calls += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class Producer:
    """send_and_wait / send: fail with `error`, hang when `hang`, else succeed."""

    def __init__(self) -> None:
        self.client = Client()
        self.error: BaseException | None = None
        self.hang = False

    async def _take(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error

    async def send_and_wait(self, topic, value, key=None, headers=None):
        await self._take()

    async def send(self, topic, value, key=None):
        await self._take()
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def stop(self) -> None:
        return None


@pytest.fixture
async def bus(monkeypatch):
    monkeypatch.setattr(kafka, "PROBE_EVERY_S", 0.01)
    bus = KafkaBus("127.0.0.1:9", publish_timeout_s=0.05, topic_prefix="p.")
    bus._producer = Producer()  # type: ignore[assignment]
    yield bus
    await bus.stop()


async def _async(value):
    return value


def events_named(logs, name):
    return [entry for entry in logs if entry["event"] == name]


async def test_a_timed_out_publish_turns_the_bus_down_until_a_probe_finds_every_leader(bus):
    producer = bus._producer
    assert bus.available()
    with capture_logs() as logs:
        producer.hang = True
        for _ in range(2):
            with pytest.raises(BusUnavailable):
                await bus.emit(EVENT)
        assert not bus.available()
        assert len(events_named(logs, "bus_unavailable")) == 1  # a change, not every failure

        await eventually(lambda: _async(producer.client.calls >= 2))  # the broker still refuses
        assert not bus.available()
        producer.client.answer = leaders(missing=("sms.status", 1))  # one partition has no leader
        seen = producer.client.calls
        await eventually(lambda: _async(producer.client.calls >= seen + 2))
        assert not bus.available()

        producer.client.answer = leaders()
        await eventually(lambda: _async(bus.available()))
    assert len(events_named(logs, "bus_available")) == 1
    producer.hang = False
    await bus.emit(EVENT)


async def test_a_publish_that_succeeds_brings_the_bus_back_and_batches_count_too(bus):
    producer = bus._producer
    producer.error = KafkaTimeoutError()
    with pytest.raises(BusUnavailable):
        await bus.emit_many([EVENT, EVENT])
    assert not bus.available()
    producer.error = None
    await bus.emit_many([EVENT])  # the probe never got an answer; the publish is the evidence
    assert bus.available()


async def test_a_bus_not_started_is_not_available():
    assert not KafkaBus("127.0.0.1:9").available()

