"""Decode → handle → produce, written once for both backends; the backend commits afterwards.

`process_record` returns normally when the record may be committed: handled and its output
published, or parked on the dead-letter topic. It raises when publishing failed, or when the
handler failed because the database or the broker cannot be reached (an outage is not the
event's fault, so it does not use up the event's tries): the backend must not commit, and
delivers the record again after a pause.

`process_records` is the same for a run of consecutive records of one partition. A consumer that
has a batch handler gets them in one call (one transaction instead of one per event, which is what
makes a bulk import or a broadcast's receipts keep up on a single SQLite connection); the batch is
only an optimisation: if it fails, or a record does not decode, the records go one by one through
`process_record`, which owns retries and dead-lettering. Handlers are idempotent by event id, so
a batch that failed halfway and is replayed event by event applies each event once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from pydantic import ValidationError

from libs.common.bus.base import DLQ_SUFFIX, BatchHandler, Handler, InvalidEvent, Record
from libs.common.events import MODELS, Event
from libs.common.observability import BUS_DEAD_LETTERS, BUS_HANDLED
from libs.common.startup import DATABASE, outage

log = structlog.get_logger("parley.bus")


class Publisher:
    """What the runner needs from a bus: the publish half."""

    async def publish(self, topic: str, key: str, event: Event) -> None: ...

    async def publish_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> None: ...

    async def emit_many(self, events: Sequence[Event]) -> None: ...


async def process_record(
    record: Record,
    group: str,
    handler: Handler,
    publisher: Publisher,
    *,
    model: type[Event] | None,
    topic_name: str,
    max_tries: int,
    backoff_s: float,
) -> None:
    if topic_name.endswith(DLQ_SUFFIX):
        event = record  # dead letters are handed over raw: they may not decode
    else:
        model = model or MODELS.get(topic_name)
        if model is None:
            raise LookupError(f"no event model for topic {topic_name!r}")
        try:
            event = model.from_bytes(record.value)
        except ValidationError as exc:
            reason = f"undecodable: {exc.errors(include_url=False)[:3]}"
            await _dead_letter(publisher, record, group, topic_name, reason, 0)
            return
    for attempt in range(1, max_tries + 1):
        try:
            produced = await handler(event) or ()
            break
        except InvalidEvent as exc:
            await _dead_letter(publisher, record, group, topic_name, f"invalid: {exc}", attempt)
            return
        except Exception as exc:
            if outage(exc, DATABASE) is not None:
                raise
            log.warning("handler_failed", topic=topic_name, group=group, attempt=attempt,
                        offset=record.offset, error=repr(exc))
            if attempt == max_tries:
                await _dead_letter(publisher, record, group, topic_name, repr(exc), attempt)
                return
            await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
    if produced:  # in order, all at once (Kafka: every ack awaited together, not one by one)
        await publisher.emit_many(list(produced))
    BUS_HANDLED.labels(topic=topic_name, group=group).inc()


async def process_records(
    records: list[Record],
    group: str,
    handler: Handler,
    batch_handler: BatchHandler | None,
    publisher: Publisher,
    *,
    model: type[Event] | None,
    topic_name: str,
    max_tries: int,
    backoff_s: float,
) -> None:
    one_by_one = dict(group=group, handler=handler, publisher=publisher, model=model,
                      topic_name=topic_name, max_tries=max_tries, backoff_s=backoff_s)
    if batch_handler is not None and len(records) > 1 and not topic_name.endswith(DLQ_SUFFIX):
        produced = await _try_batch(records, batch_handler, model or MODELS.get(topic_name),
                                    topic_name, group)
        if produced is not None:
            await publisher.emit_many(produced)
            BUS_HANDLED.labels(topic=topic_name, group=group).inc(len(records))
            return
    for record in records:
        await process_record(record, **one_by_one)


async def _try_batch(records: list[Record], batch_handler: BatchHandler,
                     model: type[Event] | None, topic_name: str, group: str):
    """The batch's output, or None when it must go one by one instead."""
    if model is None:
        raise LookupError(f"no event model for topic {topic_name!r}")
    try:
        events = [model.from_bytes(r.value) for r in records]
    except ValidationError:
        return None  # the undecodable one is dead-lettered on the way one by one
    try:
        return list(await batch_handler(events) or ())
    except Exception as exc:
        log.warning("batch_failed_going_one_by_one", topic=topic_name, group=group,
                    records=len(records), first_offset=records[0].offset, error=repr(exc))
        return None


async def _dead_letter(
    publisher: Publisher, record: Record, group: str, topic: str, reason: str, tries: int
) -> None:
    log.error("dead_lettered", topic=topic, group=group, offset=record.offset, reason=reason)
    BUS_DEAD_LETTERS.labels(topic=topic, group=group).inc()
    headers = {
        "parley-error": reason[:1000],
        "parley-group": group,
        "parley-tries": str(tries),
        "parley-source": f"{record.topic}:{record.partition}:{record.offset}",
    }
    await publisher.publish_raw(topic + DLQ_SUFFIX, record.key, record.value, headers)
