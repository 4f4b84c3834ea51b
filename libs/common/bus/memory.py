"""The in-process bus: the embedded default, with Kafka's semantics rather than a queue's.

Each topic is a list of partitions; each partition an append-only log. Keys are placed with Kafka's
own murmur2 partitioner, so a key lands in the same partition number on both backends. A consumer
group keeps one committed offset per partition; its members split the partitions round-robin and
a rebalance (join, stop, kill) waits for revoked partitions to go quiet before new owners start,
so per-key order survives it. Nothing here survives the process: the embedded mode keeps its state
in SQLite and the bus only carries work in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import defaultdict

from aiokafka.partitioner import murmur2

from libs.common.bus.base import Bus, Consumer, Handler, Record
from libs.common.bus.runner import process_record
from libs.common.events import Event


def partition_for(key: str, partitions: int) -> int:
    """Kafka's default partitioner: murmur2 of the key bytes, positive, modulo partitions."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


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
        self._logs: dict[str, list[list[Record]]] = {}
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

    def log(self, topic: str) -> list[list[Record]]:
        physical = self.topic_prefix + topic
        if physical not in self._logs:
            self._logs[physical] = [[] for _ in range(self.partitions)]
        return self._logs[physical]

    async def publish(self, topic: str, key: str, event: Event,
                      headers: dict[str, str] | None = None) -> None:
        await self.publish_raw(topic, key, event.to_bytes(), headers)

    async def publish_raw(self, topic: str, key: str, value: bytes,
                          headers: dict[str, str] | None = None) -> None:
        partitions = self.log(topic)
        p = partition_for(key, self.partitions)
        partitions[p].append(
            Record(self.topic_prefix + topic, p, len(partitions[p]), key, value, dict(headers or {}))
        )
        for consumer in self._consumers:
            if consumer.topic == topic:
                consumer.wake.set()

    def records(self, topic: str) -> list[Record]:
        """Every record of a topic, partition by partition (for tests and the CLI)."""
        return [r for part in self.log(topic) for r in part]

    async def consume(self, topic: str, group: str, handler: Handler,
                      model: type[Event] | None = None) -> Consumer:
        grp = self._groups.setdefault((topic, group), _Group())
        consumer = MemoryConsumer(self, topic, group, handler, model, grp, next(self._ids))
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
                 model: type[Event] | None, grp: _Group, ident: int) -> None:
        self.bus, self.topic, self.group, self.handler, self.model = bus, topic, group, handler, model
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
            position = self.grp.committed[p]
            if position >= len(log):
                self.wake.clear()
                await self.wake.wait()
                continue
            record = log[position]
            try:
                await process_record(
                    record, self.group, self.handler, self.bus, model=self.model,
                    topic_name=self.topic, max_tries=self.bus.max_tries,
                    backoff_s=self.bus.backoff_s,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(self.bus.backoff_s)
                continue
            self.grp.committed[p] = position + 1

    async def stop(self) -> None:
        await self.bus._leave(self, graceful=True)

    async def kill(self) -> None:
        await self.bus._leave(self, graceful=False)
