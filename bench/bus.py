"""Bus throughput and publish→handle latency, for the in-memory bus and for Kafka.

10,000 events of about 300 bytes over 100 subscriber keys, published in concurrent waves of 200
(what ingress does under load), consumed by one group member. Latency is measured from just
before `publish` to the handler's first line, in one process on one clock.

    python -m bench.bus          # Kafka is included when PARLEY_TEST_KAFKA_BOOTSTRAP is set (make bench)
"""

from __future__ import annotations

import asyncio
import time
import uuid

from bench.common import kafka_bootstrap, ms, percentile, report
from libs.common.bus import make_bus
from libs.common.config import Settings
from libs.common.events.sms_inbound import InboundSms

EVENTS = 10_000
WAVE = 200


def make_events() -> list[InboundSms]:
    pad = ""
    return [InboundSms(tenant_id="bench", phone=f"+1555555{n % 100:04d}", to="+15555550000",
                       body=f"{n}|{pad}", carrier="simulator", carrier_message_id=str(n))
            for n in range(EVENTS)]


async def run(settings: Settings, label: str) -> None:
    bus = make_bus(settings)
    await bus.start()
    events = make_events()
    size = sum(len(e.to_bytes()) for e in events) / len(events)
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def handler(event: InboundSms) -> None:
        n = int(event.body.split("|", 1)[0])
        latencies.append(time.perf_counter() - sent_at[n])
        if len(latencies) == EVENTS:
            done.set()

    consumer = await bus.consume("sms.inbound", "bench", handler)
    while not consumer.assignment():  # noqa: ASYNC110 - polling a Kafka group join, no event to wait on
        await asyncio.sleep(0.05)

    async def send(event: InboundSms) -> None:
        sent_at[int(event.carrier_message_id)] = time.perf_counter()
        await bus.emit(event)

    started = time.perf_counter()
    for i in range(0, EVENTS, WAVE):
        await asyncio.gather(*(send(e) for e in events[i:i + WAVE]))
    published = time.perf_counter() - started
    await asyncio.wait_for(done.wait(), 300)
    total = time.perf_counter() - started
    await bus.stop()
    report(label, events=EVENTS, bytes_per_event=round(size), publish_per_s=EVENTS / published,
           end_to_end_per_s=EVENTS / total, p50_ms=ms(percentile(latencies, 50)),
           p99_ms=ms(percentile(latencies, 99)))


async def main() -> None:
    await run(Settings(bus="memory", partitions=8), "bus memory")
    bootstrap = kafka_bootstrap()
    if bootstrap:
        # The bus alone: no database is opened, the URL only satisfies the settings.
        await run(Settings(bus="kafka", kafka_bootstrap=bootstrap, partitions=8,
                           database_url="postgresql+asyncpg://bench@127.0.0.1/unused",
                           topic_prefix=f"bench{uuid.uuid4().hex[:6]}."), "bus kafka")
    else:
        print("bus kafka                    skipped: set PARLEY_TEST_KAFKA_BOOTSTRAP (make bench does)")


if __name__ == "__main__":
    asyncio.run(main())
