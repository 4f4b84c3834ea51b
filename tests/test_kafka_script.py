"""scripts/kafka.sh brings a broker back on its data, ports and cluster id, after a clean stop or
kill -9, and `start` refuses to wipe an earlier broker's topics unless told to (production
profile: it needs the Java and Kafka jars the test broker runs on). A broker of the test's own."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from libs.common.testing.broker import ScriptBroker, ScriptFailed
from libs.common.testing.profiles import PRODUCTION

TOPIC = "kept"


@pytest.fixture
async def broker(profile, tmp_path):
    if profile != PRODUCTION:
        pytest.skip("starts Kafka brokers (production profile)")
    broker = ScriptBroker(tmp_path / "run")
    try:
        yield broker
    finally:
        await broker.stop()


async def produce(bootstrap: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, value, partition=0)
    finally:
        await producer.stop()


async def read_all(bootstrap: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        if TOPIC not in await consumer.topics():
            return []
        tp = TopicPartition(TOPIC, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        out: list[bytes] = []
        while len(out) < end:
            batch = await consumer.getmany(tp, timeout_ms=5000)
            out += [m.value for m in batch.get(tp, [])]
        return out
    finally:
        await consumer.stop()


async def test_restart_brings_back_the_data_ports_and_cluster_after_a_stop_or_a_kill(broker):
    await broker.start()
    bootstrap, cluster = broker.bootstrap, broker.cluster_id()
    await produce(bootstrap, b"before")

    await broker.stop(keep=True)
    await broker.restart()
    assert (broker.bootstrap, broker.cluster_id()) == (bootstrap, cluster)
    await produce(bootstrap, b"after a stop")

    await broker.kill()
    await broker.restart()
    assert (broker.bootstrap, broker.cluster_id()) == (bootstrap, cluster)
    assert await read_all(bootstrap) == [b"before", b"after a stop"]


async def test_start_refuses_to_wipe_an_earlier_brokers_topics_unless_fresh(broker):
    await broker.start()
    cluster = broker.cluster_id()
    await produce(broker.bootstrap, b"before")
    await broker.kill()

    with pytest.raises(ScriptFailed) as refused:
        await broker.start()
    assert "restart" in refused.value.stderr and "--fresh" in refused.value.stderr
    assert broker.cluster_id() == cluster  # nothing was wiped

    await broker.start(fresh=True)
    assert broker.cluster_id() != cluster
    assert await read_all(broker.bootstrap) == []
