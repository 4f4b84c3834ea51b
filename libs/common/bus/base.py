"""The bus interface both backends implement with Kafka's semantics.

- `publish(topic, key, event)` returns once the event is durable (Kafka: acked by all in-sync
  replicas); it raises `BusUnavailable` instead of hanging when the broker cannot be reached, so
  ingress can answer 503 and the carrier retries. `available()` says, without I/O, whether the
  last publishes (or a probe since) reached the broker.
- `consume(topic, group, handler)` delivers every event at least once: an offset is committed only
  after the handler returned and the events it returned were published. Events with one key land in
  one partition and are handled in order. Consumers of one group share the partitions; a restarted
  consumer resumes from the group's committed offset. A handler that keeps failing sends the event
  to `<topic>.dlq` after `max_tries`, so one bad event never blocks its partition.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from libs.common.events import Event

Handler = Callable[[Event], Awaitable[Sequence[Event] | None]]
# Optional, for consumers that apply many events faster together (one transaction): gets a run
# of consecutive events of one partition, in order; the single handler remains the fallback.
BatchHandler = Callable[[list[Event]], Awaitable[Sequence[Event] | None]]

DLQ_SUFFIX = ".dlq"
MAX_BATCH = 200  # events per batch-handler call: one transaction, short enough not to hold locks long


class BusUnavailable(RuntimeError):
    """The broker did not take the event in time; nothing was published."""


class InvalidEvent(Exception):
    """Raised by a handler for an event that can never succeed: it goes to the DLQ at once."""


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Consumer(abc.ABC):
    """A running member of a consumer group."""

    @abc.abstractmethod
    def assignment(self) -> set[int]:
        """The partitions this member owns right now."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Graceful: finish the handlers in flight, commit, leave the group."""

    @abc.abstractmethod
    async def kill(self) -> None:
        """Abrupt, like a crashed process: nothing in flight is committed."""


class Bus(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop every consumer gracefully, then the producer."""

    @abc.abstractmethod
    async def publish(
        self, topic: str, key: str, event: Event, headers: dict[str, str] | None = None
    ) -> None: ...

    @abc.abstractmethod
    async def publish_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> None: ...

    @abc.abstractmethod
    async def consume(
        self, topic: str, group: str, handler: Handler, model: type[Event] | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> Consumer:
        """Join `group` on `topic`. The handler gets the topic's event model, or on a
        `<topic>.dlq` topic the raw `Record` (original bytes plus the `parley-*` headers).
        With `batch_handler`, runs of waiting events (at most `MAX_BATCH`) go to it in one call;
        the offset is committed after the whole run, and a failing run is replayed one by one
        through `handler`."""

    @abc.abstractmethod
    async def ready(self) -> bool:
        """True when the broker answers (readiness probe)."""

    @abc.abstractmethod
    def available(self) -> bool:
        """No I/O: False while the backend knows it cannot publish (Kafka: a publish failed or
        timed out, and no publish or background probe has succeeded since). A caller with someone
        waiting on it (ingress, answering a carrier) refuses at once instead of waiting out a
        publish timeout; True promises nothing about the next publish."""

    async def room(self) -> None:
        """Backpressure for bulk producers, called between batches: Kafka keeps its backlog on
        disk, so by default there is nothing to wait for."""
        return None

    async def emit(self, event: Event) -> None:
        """Publish an event on its own topic under its subscriber key."""
        await self.publish(event.TOPIC, event.key, event)

    async def emit_many(self, events: Sequence[Event]) -> None:
        """Publish events in order, returning once all are durable (Kafka overrides this to wait
        for them together rather than one round trip each)."""
        for event in events:
            await self.emit(event)
