"""A producer the broker no longer accepts (its idempotence state lost, e.g. a broker killed with
-9) fails every publish the same way: the bus replaces it instead of answering 503 forever."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError, OutOfOrderSequenceNumber

from libs.common.bus import kafka
from libs.common.bus.base import BusUnavailable
from libs.common.bus.kafka import KafkaBus


class FakeProducer:
    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.started, self.stopped, self.sent = error, False, False, []

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send_and_wait(self, topic, value, key=None, headers=None):
        if self.error is not None:
            raise self.error
        self.sent.append((topic, key, value))


@pytest.fixture
def bus(monkeypatch):
    monkeypatch.setattr(kafka.KafkaBus, "_probe_until_back", lambda self: asyncio.sleep(0))
    b = KafkaBus("127.0.0.1:9", publish_timeout_s=1.0)
    fresh = FakeProducer()
    monkeypatch.setattr(b, "_new_producer", lambda: fresh)
    return b, fresh


async def test_an_out_of_order_sequence_replaces_the_producer(bus):
    b, fresh = bus
    broken = FakeProducer(OutOfOrderSequenceNumber())
    b._producer = broken
    with pytest.raises(BusUnavailable):
        await b.publish_raw("sms.inbound", "k", b"v")
    await b._renewal
    assert b._producer is fresh and fresh.started and broken.stopped
    await b.publish_raw("sms.inbound", "k", b"v")
    assert fresh.sent == [("sms.inbound", b"k", b"v")]


async def test_a_timeout_keeps_the_producer(bus):
    b, fresh = bus
    slow = FakeProducer(KafkaTimeoutError())
    b._producer = slow
    with pytest.raises(BusUnavailable):
        await b.publish_raw("sms.inbound", "k", b"v")
    assert b._renewal is None and b._producer is slow and not fresh.started
