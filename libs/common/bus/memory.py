"""The in-process bus: the embedded default, with Kafka's semantics rather than a queue's.

Each topic is a list of partitions; each partition an append-only log. Keys are placed with Kafka's
own murmur2 partitioner, so a key lands in the same partition number on both backends. A consumer
group keeps one committed offset per partition; its members split the partitions round-robin and
a rebalance (join, stop, kill) waits for revoked partitions to go quiet before new owners start,
so per-key order survives it. Nothing here survives the process: the embedded mode keeps its state
in SQLite and the bus only carries work in flight. Like Kafka's retention, records every group has
committed are dropped, so a long-running embedded process does not grow with its history.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import defaultdict

from aiokafka.partitioner import murmur2

from libs.common.bus.base import MAX_BATCH, BatchHandler, Bus, Consumer, Handler, Record
from libs.common.bus.runner import process_records
from libs.common.events import Event


def partition_for(key: str, partitions: int) -> int:
    """Kafka's default partitioner: murmur2 of the key bytes, positive, modulo partitions."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


TRIM_EVERY = 256  # commits between retention passes on a partition
HIGH_WATER = 5_000  # unconsumed records a partition may hold before bulk producers wait
MAX_WAIT_S = 5.0  # backpressure is soft: a publisher waits at most this long, so cycles cannot lock


class _Partition:
    """An append-only log whose consumed prefix can be dropped; offsets never change."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.base = 0  # offset of records[0]
        self.commits = 0

    def end(self) -> int:
        return self.base + len(self.records)

    def at(self, offset: int) -> Record:
        return self.records[offset - self.base]

    def trim(self, upto: int) -> None:
        if upto > self.base:
            del self.records[:upto - self.base]
            self.base = upto


class _Group:
    def __init__(self) -> None:
        self.members: list[MemoryConsumer] = []
        self.committed: dict[int, int] = defaultdict(int)
        self.lock = asyncio.Lock()


class MemoryBus(Bus):
    def __init__(self, partitions: int = 8, max_tries: int = 5, backoff_s: float = 0.05,
                 topic_prefix: str = "") -> None:
        self.partitions = partitions
        self.max_tries = max_tries
        self.backoff_s = backoff_s
        self.topic_prefix = topic_prefix
        self._logs: dict[str, list[_Partition]] = {}
        self._published: dict[str, int] = defaultdict(int)
        self._groups: dict[tuple[str, str], _Group] = {}
        self._consumers: list[MemoryConsumer] = []
        self._ids = itertools.count()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for consumer in list(self._consumers):
            await consumer.stop()

    async def ready(self) -> bool:
        return True

    def available(self) -> bool:
        return True  # in-process: there is no broker to lose

    def log(self, topic: str) -> list[_Partition]:
        physical = self.topic_prefix + topic
        if physical not in self._logs:
            self._logs[physical] = [_Partition() for _ in range(self.partitions)]
        return self._logs[physical]

    async def publish(self, topic: str, key: str, event: Event,
                      headers: dict[str, str] | None = None) -> None:
        await self.publish_raw(topic, key, event.to_bytes(), headers)

    async def publish_raw(self, topic: str, key: str, value: bytes,
                          headers: dict[str, str] | None = None) -> None:
        partitions = self.log(topic)
        p = partition_for(key, self.partitions)
        part = partitions[p]
        part.records.append(
            Record(self.topic_prefix + topic, p, part.end(), key, value, dict(headers or {}))
        )
        self._published[topic] += 1
        for consumer in self._consumers:
            if consumer.topic == topic:
                consumer.wake.set()

    def records(self, topic: str) -> list[Record]:
        """The records a topic still holds (not yet committed by every group), partition by partition."""
        return [r for part in self.log(topic) for r in part.records]

    def published(self, topic: str) -> int:
        """How many records were ever published to a topic."""
        return self._published[topic]

    async def room(self) -> None:
        """Wait (at most MAX_WAIT_S) while some partition holds more than HIGH_WATER records that
        its groups have yet to consume: a bulk producer calls this between batches, outside any
        transaction, so it cannot pile up memory faster than consumers drain it."""
        waited = 0.0
        while waited < MAX_WAIT_S and any(
                len(part.records) > HIGH_WATER for parts in self._logs.values() for part in parts):
            for (topic, _), _group in list(self._groups.items()):
                for p in range(self.partitions):
                    self._retain(topic, p)
            await asyncio.sleep(0.05)
            waited += 0.05

    def _retain(self, topic: str, p: int) -> None:
        """Drop what every group on the topic has committed (Kafka's retention, by consumption)."""
        groups = [g for (t, _), g in self._groups.items() if t == topic]
        if groups:
            self.log(topic)[p].trim(min(g.committed[p] for g in groups))

    async def consume(self, topic: str, group: str, handler: Handler,
                      model: type[Event] | None = None,
                      batch_handler: BatchHandler | None = None) -> Consumer:
        grp = self._groups.setdefault((topic, group), _Group())
        consumer = MemoryConsumer(self, topic, group, handler, model, grp, next(self._ids),
                                  batch_handler)
        self._consumers.append(consumer)
        async with grp.lock:
            grp.members.append(consumer)
            await _rebalance(self, grp)
        return consumer

    async def _leave(self, consumer: MemoryConsumer, graceful: bool) -> None:
        grp = consumer.grp
        async with grp.lock:
            if consumer in grp.members:
                grp.members.remove(consumer)
            await consumer.release_all(graceful)
            with contextlib.suppress(ValueError):
                self._consumers.remove(consumer)
            await _rebalance(self, grp)


async def _rebalance(bus: MemoryBus, grp: _Group) -> None:
    """Round-robin assignment; revoked partitions are drained before anyone takes them."""
    wanted: dict[MemoryConsumer, set[int]] = {m: set() for m in grp.members}
    for p in range(bus.partitions):
        if grp.members:
            wanted[grp.members[p % len(grp.members)]].add(p)
    for member in grp.members:
        await member.release(member.owned() - wanted[member], graceful=True)
    for member in grp.members:
        member.acquire(wanted[member] - member.owned())


class MemoryConsumer(Consumer):
    def __init__(self, bus: MemoryBus, topic: str, group: str, handler: Handler,
                 model: type[Event] | None, grp: _Group, ident: int,
                 batch_handler: BatchHandler | None = None) -> None:
        self.bus, self.topic, self.group, self.handler, self.model = bus, topic, group, handler, model
        self.batch_handler = batch_handler
        self.batch = MAX_BATCH if batch_handler else 1
        self.grp = grp
        self.ident = ident
        self.wake = asyncio.Event()
        self._tasks: dict[int, asyncio.Task] = {}
        self._draining: set[int] = set()

    def __hash__(self) -> int:
        return self.ident

    def owned(self) -> set[int]:
        return set(self._tasks)

    def assignment(self) -> set[int]:
        return self.owned()

    def acquire(self, partitions: set[int]) -> None:
        for p in partitions:
            self._tasks[p] = asyncio.create_task(self._run(p), name=f"{self.group}:{self.topic}:{p}")
        self.wake.set()

    async def release(self, partitions: set[int], graceful: bool) -> None:
        tasks = [self._tasks.pop(p) for p in partitions]
        if graceful:
            self._draining |= partitions
            self.wake.set()
        else:
            for task in tasks:
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._draining -= partitions

    async def release_all(self, graceful: bool) -> None:
        await self.release(self.owned(), graceful)

    async def _run(self, p: int) -> None:
        log = self.bus.log(self.topic)[p]
        while p not in self._draining:
            position = max(self.grp.committed[p], log.base)  # a new group starts at what is kept
            if position >= log.end():
                self.wake.clear()
                await self.wake.wait()
                continue
            upto = min(log.end(), position + self.batch)
            records = log.records[position - log.base:upto - log.base]
            try:
                await process_records(
                    records, self.group, self.handler, self.batch_handler, self.bus,
                    model=self.model, topic_name=self.topic, max_tries=self.bus.max_tries,
                    backoff_s=self.bus.backoff_s,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(self.bus.backoff_s)
                continue
            self.grp.committed[p] = upto
            before, log.commits = log.commits, log.commits + len(records)
            if log.commits // TRIM_EVERY != before // TRIM_EVERY:
                self.bus._retain(self.topic, p)

    async def stop(self) -> None:
        await self.bus._leave(self, graceful=True)

    async def kill(self) -> None:
        await self.bus._leave(self, graceful=False)
