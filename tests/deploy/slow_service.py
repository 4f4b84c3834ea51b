"""A service for the shutdown tests, hosted by the real `serve()`: on start it publishes one event,
and its handler for that event reports that it started, then holds until the test releases it.

    SLOW_MARKS=<dir> python -m tests.deploy.slow_service      (settings from PARLEY_*)

Files in SLOW_MARKS: `started` (the handler is in flight), `release` (written by the test),
`finished` (the handler returned, so the bus may commit).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from libs.common.events import subscriber_events
from libs.common.service import Ctx, Service, Subscription, serve

MARKS = Path(os.environ.get("SLOW_MARKS", "."))
TOPIC = subscriber_events.TOPIC
GROUP = "slow"
EVENT = subscriber_events.SubscriberEvent(event_id="shutdown-test", tenant_id="acme",
                                          phone="+15555550100", type="attribute_set")


async def publish_one(ctx: Ctx) -> None:
    await ctx.bus.publish(TOPIC, EVENT.key, EVENT)


async def hold_until_released(event: subscriber_events.SubscriberEvent, ctx: Ctx) -> None:
    (MARKS / "started").write_text(event.event_id)
    # The test process writes the file: there is nothing in this process to await instead.
    while not (MARKS / "release").exists():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    (MARKS / "finished").write_text(event.event_id)


if __name__ == "__main__":
    serve([Service(name="slow", subscriptions=[Subscription(TOPIC, GROUP, hold_until_released)],
                   startup=[publish_one])])
