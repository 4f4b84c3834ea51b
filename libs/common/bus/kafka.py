"""The Kafka backend, through aiokafka.

Producer: idempotent, acks=all, so `publish` returning means every in-sync replica has the event;
a publish waits at most `publish_timeout_s` (PARLEY_PUBLISH_TIMEOUT_S, also the producer's request
timeout), then raises `BusUnavailable`. A failed or timed-out publish turns `available()` false
(logged once) until a publish succeeds or a background metadata probe, every `PROBE_EVERY_S` while
down, finds a leader for every partition of Parley's topics.
Consumers: manual commits after each batch a partition handled (never auto-commit), one task per
group member, the partitions of a batch handled concurrently and each partition in order.
Topics (and their `.dlq` twins) are created on start with the configured partition count.

`start` may be called again after it failed (the service retries it while the broker is away);
a broker that refuses our credentials is a misconfiguration, raised as such.

Group membership is static when the bus has an instance id (KIP-345, `group.instance.id` =
"<instance>.<group>.<topic>"): a process restarted under the same id (a container restarted in
place after kill -9) takes its partitions back at once, without a rebalance, instead of waiting
for the dead member's session to time out (10 s). A graceful stop still leaves the group, so a
replica that is replaced (a rolling update: new pod, new name) hands its partitions over at once.
Without an instance id, members are dynamic with a 6 s session.

A consumer survives outages: a handler that fails because the database or the broker is down
does not use up the event's tries; the event is delivered again after a back-off pause (one log
line when the consumer starts waiting, one when it resumes), and its polling loop is restarted if
it ever raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import time
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnknownProducerId,
)

from libs.common.backoff import DEPENDENCY
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
from libs.common.config import Misconfigured
from libs.common.events import TOPICS, Event
from libs.common.observability import KAFKA_LINK

log = structlog.get_logger("parley.bus.kafka")

# Consumer group sessions: with static membership a restarted member reclaims its partitions
# whatever the timeout, so it can be long enough to ride out a slow restart; dynamic members
# are replaced only once the dead one's session expires, so theirs is short (6 s is the broker's
# default minimum, group.min.session.timeout.ms). Heartbeats every third of it.
STATIC_SESSION_MS = 10_000
DYNAMIC_SESSION_MS = 6_000
WATCH_EVERY_S = 1.0  # while the link is down, how often the bus checks whether it is back
PROBE_EVERY_S = 0.5
# Errors after which this producer's idempotence state no longer matches the broker's (a broker
# that lost its producer state, e.g. after kill -9): every later publish fails the same way until
# the producer is replaced by one with a new producer id.
BROKEN_PRODUCER = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


class KafkaBus(Bus):
    def __init__(self, bootstrap: str, *, partitions: int = 8, replication_factor: int = 1,
                 max_tries: int = 5,
                 backoff_s: float = 0.05, topic_prefix: str = "",
                 publish_timeout_s: float = 2.0, client_id: str = "parley",
                 security: dict | None = None, instance_id: str | None = None) -> None:
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.max_tries = max_tries
        self.backoff_s = backoff_s
        self.topic_prefix = topic_prefix
        self.publish_timeout_s = publish_timeout_s
        self.client_id = client_id
        self.security = security or {}  # kafka_security.client_options: for every client
        self.instance_id = instance_id  # static group membership when set (see the module doc)
        self._producer: AIOKafkaProducer | None = None
        self._consumers: list[KafkaConsumer] = []
        self._watch: asyncio.Task | None = None
        self._health = Health()
        self._probe: asyncio.Task | None = None
        self._renewal: asyncio.Task | None = None

    @property
    def protocol(self) -> str:
        return self.security.get("security_protocol", "PLAINTEXT")

    async def start(self) -> None:
        if self._producer is not None:
            return
        try:
            await self.ensure_topics(TOPICS)
        except KafkaError as exc:
            KAFKA_LINK.lost("connect", repr(exc))
            if isinstance(exc, KafkaConnectionError):
                await self._refused_credentials()
            raise BusUnavailable(
                f"cannot reach Kafka at {self.bootstrap} over {self.protocol}: {exc}. Check "
                "PARLEY_KAFKA_BOOTSTRAP, PARLEY_KAFKA_SECURITY_PROTOCOL and its SASL/SSL settings "
                "if it does not come") from exc
        producer = self._new_producer()
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self._producer = producer
        KAFKA_LINK.restored()
        self._watch = asyncio.create_task(self._watch_link(), name="kafka:link")

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, client_id=self.client_id,
            enable_idempotence=True, acks="all", linger_ms=1,
            request_timeout_ms=int(self.publish_timeout_s * 1000), **self.security,
        )

    async def _renew_producer(self, reason: str) -> None:
        """Replace a producer the broker no longer accepts (see BROKEN_PRODUCER). Publishes in
        flight on the old one fail (503: the carrier retries; consumers dedupe by event id)."""
        new = self._new_producer()
        try:
            await new.start()
        except Exception as exc:  # the broker is away too: the next broken publish tries again
            with contextlib.suppress(Exception):
                await new.stop()
            log.warning("kafka_producer_renewal_failed", error=repr(exc)[:200])
            return
        old, self._producer = self._producer, new
        log.warning("kafka_producer_renewed", reason=reason)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.stop()

    async def _refused_credentials(self) -> None:
        """aiokafka reports a refused login as "unable to bootstrap", like an unreachable broker:
        ask the first broker directly, and raise if it is the credentials (waiting will not help)."""
        if self.protocol == "PLAINTEXT":
            return
        host, _, port = self.bootstrap.split(",")[0].strip().rpartition(":")
        try:
            conn = await asyncio.wait_for(create_conn(host, int(port), **self.security), 10)
        except SaslAuthenticationFailed as exc:
            raise Misconfigured(
                f"Kafka at {self.bootstrap} refused the credentials ({exc}): check "
                "PARLEY_KAFKA_SECURITY_PROTOCOL, PARLEY_KAFKA_SASL_MECHANISM, "
                "PARLEY_KAFKA_SASL_USERNAME and PARLEY_KAFKA_SASL_PASSWORD") from exc
        except ssl.SSLCertVerificationError as exc:
            raise Misconfigured(
                f"Kafka at {self.bootstrap} has a certificate this client does not trust ({exc}): "
                "check PARLEY_KAFKA_SSL_CAFILE") from exc
        except Exception:
            return  # not a verdict on the credentials: an outage, waited out by the caller
        conn.close()

    async def _watch_link(self) -> None:
        """While the clients see the broker as lost, check every second whether it is back."""
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            if not KAFKA_LINK.up:
                await self.ready()

    async def stop(self) -> None:
        for consumer in list(self._consumers):
            await consumer.stop()
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        for task in (self._probe, self._renewal):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(self, topics) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id,
                                    **self.security)
        try:
            await admin.start()
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
        except (TimeoutError, KafkaError, OSError):
            return False
        KAFKA_LINK.restored()
        return True

    def available(self) -> bool:
        return self._producer is not None and self._health.available

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, BROKEN_PRODUCER) and self._producer is not None and (
                self._renewal is None or self._renewal.done()):
            self._renewal = asyncio.create_task(self._renew_producer(repr(exc)[:200]),
                                                name="kafka:renew-producer")
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
            KAFKA_LINK.lost("produce", repr(exc))
            self._failed(exc)
            raise BusUnavailable(f"kafka did not take the event: {exc!r}") from exc
        KAFKA_LINK.restored()
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
            KAFKA_LINK.lost("produce", repr(exc))
            self._failed(exc)
            raise BusUnavailable(f"kafka did not take the events: {exc!r}") from exc
        KAFKA_LINK.restored()
        self._succeeded()

    async def consume(self, topic: str, group: str, handler: Handler,
                      model: type[Event] | None = None,
                      batch_handler: BatchHandler | None = None) -> Consumer:
        """Join `group` on `topic` and return once this member has its partitions."""
        # Several members of one group in one process (tests, a scaled embedded host) each need
        # their own static id: the lowest number no live member of that group uses, so the same
        # subscriptions made in the same order after a restart get the same ids back.
        taken = {c.index for c in self._consumers if (c.group, c.topic) == (group, topic)}
        index = next(i for i in itertools.count(1) if i not in taken)
        consumer = KafkaConsumer(self, topic, group, handler, model, batch_handler, index)
        self._consumers.append(consumer)
        try:
            await consumer.start()
        except BaseException:
            self._consumers.remove(consumer)
            raise
        return consumer


class _Assignments(ConsumerRebalanceListener):
    """Logs every assignment, with the group generation: an unchanged generation after a restart
    means the broker gave a returning static member its partitions back without a rebalance."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked) -> None:
        return None

    async def on_partitions_assigned(self, assigned) -> None:
        c = self.consumer
        coordinator = getattr(c._consumer, "_coordinator", None)
        log.info("partitions_assigned", group=c.group_id, instance=c.instance_id,
                 generation=getattr(coordinator, "generation", None),
                 partitions=sorted(tp.partition for tp in assigned))


class KafkaConsumer(Consumer):
    def __init__(self, bus: KafkaBus, topic: str, group: str, handler: Handler,
                 model: type[Event] | None, batch_handler: BatchHandler | None = None,
                 index: int = 1) -> None:
        self.bus, self.topic, self.group, self.handler, self.model = bus, topic, group, handler, model
        self.batch_handler, self.index = batch_handler, index
        self.batch = MAX_BATCH if batch_handler else 1
        # One Kafka group per (group, topic), as the memory bus keys them: a service that
        # subscribes to several topics must not rebalance all of them whenever one member joins.
        self.group_id = f"{bus.topic_prefix}{group}.{topic}"
        self.instance_id = (f"{bus.instance_id}.{group}.{topic}" + (f".{index}" if index > 1 else "")
                            if bus.instance_id else None)
        session_ms = STATIC_SESSION_MS if self.instance_id else DYNAMIC_SESSION_MS
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bus.bootstrap, group_id=self.group_id,
            group_instance_id=self.instance_id, session_timeout_ms=session_ms,
            heartbeat_interval_ms=session_ms // 3,
            client_id=f"{bus.client_id}-{group}", enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed", **bus.security,
        )
        self._consumer.subscribe([bus.topic_prefix + topic], listener=_Assignments(self))
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._waiting_since: float | None = None  # set while handlers wait out an outage
        self._failures = 0

    def assignment(self) -> set[int]:
        return {tp.partition for tp in self._consumer.assignment()}

    async def start(self) -> None:
        """Join the group (returns once partitions are assigned). On failure nothing is left open,
        so the caller may simply try again with a new consumer."""
        try:
            await self._consumer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            raise
        self._task = asyncio.create_task(self._run(), name=f"kafka:{self.group}:{self.topic}")

    async def _run(self) -> None:
        """Poll and handle until stopped. If polling itself raises, the loop logs it and polls
        again after a pause: a consumer must not end silently while the process lives on."""
        restarts = 0
        while not self._stopping:
            try:
                batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
                if batches:
                    await asyncio.gather(*(self._handle(tp, msgs) for tp, msgs in batches.items()))
                restarts = 0
            except Exception as exc:
                restarts += 1
                log.error("consumer_loop_failed_restarting", group=self.group_id, error=repr(exc),
                          restarts=restarts)
                await asyncio.sleep(DEPENDENCY.delay(restarts))

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
                # Not handled (a dependency is down, or the output could not be published):
                # nothing is committed, and the run comes again after a back-off pause.
                self._wait_out(exc)
                with contextlib.suppress(IllegalStateError):  # the partition moved meanwhile
                    self._consumer.seek(tp, run[0].offset)
                await asyncio.sleep(DEPENDENCY.delay(self._failures))
                break
            self._resumed()
            done = run[-1].offset
        if done is not None:
            try:
                await self._consumer.commit({tp: done + 1})
            except (CommitFailedError, KafkaError) as exc:
                # The partition moved to another member: it will be delivered there again.
                log.warning("commit_failed", topic=self.topic, partition=tp.partition, error=repr(exc))

    def _wait_out(self, exc: Exception) -> None:
        self._failures += 1
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
            log.warning("consumer_waiting", group=self.group_id, error=repr(exc)[:300],
                        action="delivering the events again after a back-off pause")

    def _resumed(self) -> None:
        if self._waiting_since is not None:
            log.info("consumer_resumed", group=self.group_id, retries=self._failures,
                     waited_s=round(time.monotonic() - self._waiting_since, 1))
            self._waiting_since, self._failures = None, 0

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # aiokafka never sends LeaveGroup for a static member (it expects the same id back
        # soon). A graceful stop is not that: leave, so the others take the partitions at once.
        coordinator = getattr(self._consumer, "_coordinator", None)
        if coordinator is not None and hasattr(coordinator, "_group_instance_id"):
            coordinator._group_instance_id = None
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
