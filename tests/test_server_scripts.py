"""scripts/kafka.sh brings a broker back on its data, ports and cluster id, after a clean stop or
kill -9, and `start` refuses to wipe an earlier broker's topics unless told to; scripts/postgres.sh
restarts a server on its data and port (production profile: they need the binaries the test
servers run on). Servers of the tests' own, in their own run directories."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from libs.common.testing.profiles import PRODUCTION
from libs.common.testing.servers import ScriptFailed, ScriptPostgres

TOPIC = "kept"


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


async def test_a_broker_comes_back_on_its_data_ports_and_cluster_and_start_wipes_only_when_fresh(own_broker):
    broker = own_broker
    await broker.start()
    bootstrap, cluster = broker.bootstrap, broker.cluster_id()
    await produce(bootstrap, b"before")

    await broker.stop(keep=True)
    with pytest.raises(ScriptFailed) as refused:
        await broker.start()
    assert "restart" in refused.value.stderr and "--fresh" in refused.value.stderr
    await broker.restart()
    assert (broker.bootstrap, broker.cluster_id()) == (bootstrap, cluster)
    await produce(bootstrap, b"after a stop")

    await broker.kill()
    await broker.restart()
    assert (broker.bootstrap, broker.cluster_id()) == (bootstrap, cluster)
    assert await read_all(bootstrap) == [b"before", b"after a stop"]
    await produce(bootstrap, b"after a kill")

    # At once after kill -9, while the old broker's threads still hold its ports.
    await broker.kill(wait=False)
    await broker.restart()
    assert (broker.bootstrap, broker.cluster_id()) == (bootstrap, cluster)
    assert await read_all(bootstrap) == [b"before", b"after a stop", b"after a kill"]

    await broker.kill()
    await broker.start(fresh=True)
    assert broker.cluster_id() != cluster
    assert await read_all(broker.bootstrap) == []


async def test_a_postgres_restart_keeps_its_data_and_port(profile, tmp_path):
    if profile != PRODUCTION:
        pytest.skip("starts a PostgreSQL server (production profile)")
    server = ScriptPostgres(tmp_path / "run")
    try:
        await server.start()
        url = server.url
        dsn = url.replace("+asyncpg", "")
        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)")
        started = await conn.fetchval("SELECT pg_postmaster_start_time()")
        await conn.close()
        await server.restart()
        assert server.url == url
        conn = await asyncpg.connect(dsn)
        assert await conn.fetchval("SELECT pg_postmaster_start_time()") > started
        assert await conn.fetchval("SELECT x FROM kept") == 1
        await conn.close()
    finally:
        await server.stop()
