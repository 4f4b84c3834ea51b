"""The Kafka backend, through aiokafka.

Producer: idempotent, acks=all, so `publish` returning means every in-sync replica has the event;
a publish waits at most `publish_timeout_s` (PARLEY_PUBLISH_TIMEOUT_S, also the producer's request
timeout), then raises `BusUnavailable`. A failed or timed-out publish turns `available()` false
(logged once) until a publish succeeds or a background metadata probe, every `PROBE_EVERY_S` while
down, finds a leader for every partition of Parley's topics.
Consumers: manual commits after each batch a partition handled (never auto-commit), one task per
group member, the partitions of a batch handled concurrently and each partition in order.
Topics (and their `.dlq` twins) are created on start with the configured partition count.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError

from libs.common.bus.base import (
    DLQ_SUFFIX,
    MAX_BATCH,
    BatchHandler,
    Bus,
    BusUnavailable,
    Consumer,
    Handler,
    Record,
)
from libs.common.bus.health import Health
from libs.common.bus.runner import process_records
from libs.common.events import TOPICS, Event

log = structlog.get_logger("parley.bus.kafka")

PROBE_EVERY_S = 0.5


class KafkaBus(Bus):
    def __init__(self, bootstrap: str, *, partitions: int = 8, replication_factor: int = 1,
                 max_tries: int = 5,
                 backoff_s: float = 0.05, topic_prefix: str = "",
                 publish_timeout_s: float = 2.0, client_id: str = "parley",
                 security: dict | None = None) -> None:
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.max_tries = max_tries
        self.backoff_s = backoff_s
        self.topic_prefix = topic_prefix
        self.publish_timeout_s = publish_timeout_s
        self.client_id = client_id
        self.security = security or {}  # kafka_security.client_options: for every client
        self._producer: AIOKafkaProducer | None = None
        self._consumers: list[KafkaConsumer] = []
        self._health = Health()
        self._probe: asyncio.Task | None = None

    async def start(self) -> None:
        try:
            await self.ensure_topics(TOPICS)
        except KafkaError as exc:
            # aiokafka logs the cause (refused, authentication failed) and raises "unable to
            # bootstrap": say which settings decide how we connect
            raise BusUnavailable(
                f"cannot reach Kafka at {self.bootstrap} over "
                f"{self.security.get('security_protocol', 'PLAINTEXT')}: {exc}. Check "
                "PARLEY_KAFKA_BOOTSTRAP, PARLEY_KAFKA_SECURITY_PROTOCOL and its SASL/SSL settings "
                "(the log above has the broker's answer)") from exc
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, client_id=self.client_id,
            enable_idempotence=True, acks="all", linger_ms=1,
            request_timeout_ms=int(self.publish_timeout_s * 1000), **self.security,
        )
        await self._producer.start()

    async def stop(self) -> None:
        for consumer in list(self._consumers):
            await consumer.stop()
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(self, topics) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id,
                                    **self.security)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            names = [self.topic_prefix + t + suffix for t in topics for suffix in ("", DLQ_SUFFIX)]
            new = [NewTopic(n, self.partitions, self.replication_factor) for n in names if n not in existing]
            if new:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(new)
        finally:
            await admin.close()

    async def ready(self) -> bool:
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 2.0)
            return True
        except (TimeoutError, KafkaError, OSError):
            return False

    def available(self) -> bool:
        return self._producer is not None and self._health.available

    def _failed(self, exc: BaseException) -> None:
        if self._health.failed(repr(exc)[:200]):
            log.error("bus_unavailable", bootstrap=self.bootstrap, error=self._health.reason,
                      timeout_s=self.publish_timeout_s)
            if self._probe is None or self._probe.done():  # one probe at a time
                self._probe = asyncio.create_task(self._probe_until_back(), name="kafka:probe")

    def _succeeded(self) -> None:
        if self._health.succeeded():
            log.info("bus_available", bootstrap=self.bootstrap)

    async def _probe_until_back(self) -> None:
        while not self._health.available and self._producer is not None:
            if await self._leaders_known(self._producer):
                self._succeeded()
                return
            await asyncio.sleep(PROBE_EVERY_S)

    async def _leaders_known(self, producer: AIOKafkaProducer) -> bool:
        """The broker answers metadata, naming a leader for every partition of every topic."""
        try:
            cluster = await asyncio.wait_for(producer.client.fetch_all_metadata(),
                                             self.publish_timeout_s)
        except (TimeoutError, KafkaError, OSError):
            return False
        for topic in (self.topic_prefix + name for name in TOPICS):
            partitions = cluster.partitions_for_topic(topic)
            if not partitions or cluster.available_partitions_for_topic(topic) != partitions:
                return False
        return True

    async def publish(self, topic: str, key: str, event: Event,
                      headers: dict[str, str] | None = None) -> None:
        await self.publish_raw(topic, key, event.to_bytes(), headers)

    async def publish_raw(self, topic: str, key: str, value: bytes,
                          headers: dict[str, str] | None = None) -> None:
        if self._producer is None:
            raise BusUnavailable("bus not started")
        kafka_headers = [(k, v.encode()) for k, v in (headers or {}).items()]
        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(self.topic_prefix + topic, value, key=key.encode(),
                                             headers=kafka_headers),
                self.publish_timeout_s,
            )
        except (TimeoutError, KafkaError, OSError) as exc:
            self._failed(exc)
            raise BusUnavailable(f"kafka did not take the event: {exc!r}") from exc
        self._succeeded()

    async def emit_many(self, events: Sequence[Event]) -> None:
        """Queue every event in order (the idempotent producer keeps that order per partition),
        then wait for all acks at once: a batch costs about one round trip, not one per event."""
        if not events:
            return
        if self._producer is None:
            raise BusUnavailable("bus not started")
        try:
            async with asyncio.timeout(self.publish_timeout_s):
                acks = [await self._producer.send(self.topic_prefix + e.TOPIC, e.to_bytes(),
                                                  key=e.key.encode()) for e in events]
                await asyncio.gather(*acks)
        except (TimeoutError, KafkaError, OSError) as exc:
            self._failed(exc)
            raise BusUnavailable(f"kafka did not take the events: {exc!r}") from exc
        self._succeeded()

    async def consume(self, topic: str, group: str, handler: Handler,
                      model: type[Event] | None = None,
                      batch_handler: BatchHandler | None = None) -> Consumer:
        consumer = KafkaConsumer(self, topic, group, handler, model, batch_handler)
        await consumer.start()
        self._consumers.append(consumer)
        return consumer


class KafkaConsumer(Consumer):
    def __init__(self, bus: KafkaBus, topic: str, group: str, handler: Handler,
                 model: type[Event] | None, batch_handler: BatchHandler | None = None) -> None:
        self.bus, self.topic, self.group, self.handler, self.model = bus, topic, group, handler, model
        self.batch_handler = batch_handler
        self.batch = MAX_BATCH if batch_handler else 1
        # One Kafka group per (group, topic), as the memory bus keys them: a service that
        # subscribes to several topics must not rebalance all of them whenever one member joins.
        self._consumer = AIOKafkaConsumer(
            bus.topic_prefix + topic, bootstrap_servers=bus.bootstrap,
            group_id=f"{bus.topic_prefix}{group}.{topic}",
            client_id=f"{bus.client_id}-{group}", enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed", **bus.security,
        )
        self._stopping = False
        self._task: asyncio.Task | None = None

    def assignment(self) -> set[int]:
        return {tp.partition for tp in self._consumer.assignment()}

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"kafka:{self.group}:{self.topic}")

    async def _run(self) -> None:
        while not self._stopping:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
            if batches:
                await asyncio.gather(*(self._handle(tp, msgs) for tp, msgs in batches.items()))

    async def _handle(self, tp: TopicPartition, messages) -> None:
        done = None
        for start in range(0, len(messages), self.batch):
            if self._stopping:
                break  # shutting down: commit what is done, leave the rest for the next owner
            run = messages[start:start + self.batch]
            records = [Record(m.topic, m.partition, m.offset, (m.key or b"").decode(), m.value,
                              {k: v.decode() for k, v in (m.headers or ())}) for m in run]
            try:
                await process_records(
                    records, self.group, self.handler, self.batch_handler, self.bus,
                    model=self.model, topic_name=self.topic, max_tries=self.bus.max_tries,
                    backoff_s=self.bus.backoff_s,
                )
            except Exception as exc:
                log.warning("publish_failed_will_redeliver", topic=self.topic, error=repr(exc))
                self._consumer.seek(tp, run[0].offset)
                await asyncio.sleep(self.bus.backoff_s)
                break
            done = run[-1].offset
        if done is not None:
            try:
                await self._consumer.commit({tp: done + 1})
            except (CommitFailedError, KafkaError) as exc:
                # The partition moved to another member: it will be delivered there again.
                log.warning("commit_failed", topic=self.topic, partition=tp.partition, error=repr(exc))

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    async def kill(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        with contextlib.suppress(ValueError):
            self.bus._consumers.remove(self)
