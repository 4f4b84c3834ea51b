"""Decode → handle → produce, written once for both backends; the backend commits afterwards.

`process_record` returns normally when the record may be committed: handled and its output
published, or parked on the dead-letter topic. It raises only when publishing failed, in which
case the backend must not commit and will deliver the record again.
"""

from __future__ import annotations

import asyncio

import structlog
from pydantic import ValidationError

from libs.common.bus.base import DLQ_SUFFIX, Handler, InvalidEvent, Record
from libs.common.events import MODELS, Event
from libs.common.observability import BUS_DEAD_LETTERS, BUS_HANDLED

log = structlog.get_logger("parley.bus")


class Publisher:
    """What the runner needs from a bus: the publish half."""

    async def publish(self, topic: str, key: str, event: Event) -> None: ...

    async def publish_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> None: ...


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
            log.warning("handler_failed", topic=topic_name, group=group, attempt=attempt,
                        offset=record.offset, error=repr(exc))
            if attempt == max_tries:
                await _dead_letter(publisher, record, group, topic_name, repr(exc), attempt)
                return
            await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
    for out in produced:
        await publisher.publish(out.TOPIC, out.key, out)
    BUS_HANDLED.labels(topic=topic_name, group=group).inc()


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
