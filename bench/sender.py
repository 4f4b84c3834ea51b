"""Sender: messages per second through the sender to a local fake carrier, and memory with 100,000
deferred messages.

`throughput`: 2,000 `sms.outbound` actions over 1,000 subscribers are published on the bus; the
sender service (alone, rate limits off) records each, runs the send-time checks, calls a fake Twilio
API on 127.0.0.1 (its own process, so it does not share the sender's event loop) and settles it.
The figure is actions settled per second, publish to last `sent` (the bus hands each partition's
records over one at a time, 8 partitions). `direct` calls the same consumer 32 at a time (1,500
actions), without the bus.

`deferred`: 100,000 marketing messages deferred by quiet hours are written as the pipeline leaves
them; then they come due and the service's own deferred loop drains them for 8 seconds. Deferred
messages live in the database, not in memory: the figures are the process's peak RSS before, with
them stored, and while the loop works through them.

    python -m bench.sender    # Kafka + PostgreSQL too when PARLEY_TEST_KAFKA_BOOTSTRAP and
                              # PARLEY_TEST_DATABASE_URL are set (make bench)
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from bench.common import database_url, kafka_bootstrap, report
from libs.common.config import Settings
from libs.common.db.models.sender import OutboundMessage, SendingNumber
from libs.common.db.models.tenancy import CarrierCredential, Tenant
from libs.common.events.sms_outbound import SendSms
from libs.common.secrets import CredentialBox
from libs.common.testing.app import running
from libs.common.testing.http import free_port
from libs.common.testing.profiles import fresh_postgres
from services.sender import cache, store
from services.sender.app import service
from services.sender.carriers.fakes import CREDENTIALS
from services.sender.consumer import handle_outbound
from services.sender.policy import SendingRules

ACTIONS = 2_000
DIRECT = 1_500
SUBSCRIBERS = 1_000
DEFERRED = 100_000
DRAIN_S = 8.0
TENANT, NUMBER = "bench", "+13125550000"


def _serve_fake(port: int) -> None:
    import uvicorn

    from services.sender.carriers.fakes import FakeCarrier

    uvicorn.run(FakeCarrier("twilio"), host="127.0.0.1", port=port, log_level="error", lifespan="off")


@contextlib.contextmanager
def fake_twilio():
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_serve_fake, args=(port,), daemon=True)
    proc.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.join(5)


async def _wait_for(url: str) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                await client.get(url + "/")
                return
            await asyncio.sleep(0.05)
    raise RuntimeError("the fake carrier did not start")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed(ctx) -> None:
    box = CredentialBox(ctx.settings.secret_key.get_secret_value())
    now = datetime.now(UTC)
    async with ctx.sessions() as session, session.begin():
        session.add(Tenant(id=TENANT, name="Bench", brand="Bench", created_at=now))
        await session.flush()
        session.add(CarrierCredential(tenant_id=TENANT, carrier="twilio",
                                      encrypted=box.seal(CREDENTIALS["twilio"]), updated_at=now))
        session.add(SendingNumber(tenant_id=TENANT, number=NUMBER, carrier="twilio", number_type="long_code",
                                  is_default=True, created_at=now))


async def count(ctx, status: str) -> int:
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.status == status)) or 0


async def throughput(ctx, label: str) -> None:
    commands = [SendSms(tenant_id=TENANT, phone=f"+1555555{n % SUBSCRIBERS:04d}", from_number=NUMBER,
                        body=f"Order {n} shipped. Track it: {{link:https://shop.example/t/{n}}}",
                        kind="transactional") for n in range(ACTIONS)]
    started = time.perf_counter()
    for i in range(0, ACTIONS, 200):
        await asyncio.gather(*(ctx.bus.emit(c) for c in commands[i:i + 200]))
    while (done := await count(ctx, "sent")) < ACTIONS:
        if time.perf_counter() - started > 90:
            raise RuntimeError(f"only {done} of {ACTIONS} sent after 90 s")
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    report(f"sender {label}", actions=ACTIONS, sent_per_s=ACTIONS / elapsed, seconds=elapsed)

    # The same pipeline called directly, 32 at a time: what the sender does without the bus's
    # one-record-at-a-time per partition.
    gate = asyncio.Semaphore(32)

    async def one(cmd: SendSms) -> None:
        async with gate:
            await handle_outbound(cmd, ctx)

    direct = [c.model_copy(update={"action_id": f"direct-{c.action_id}"}) for c in commands[:DIRECT]]
    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in direct))
    elapsed = time.perf_counter() - started
    report(f"sender {label} direct", actions=DIRECT, concurrency=32, sent_per_s=DIRECT / elapsed)


async def deferred(ctx, label: str) -> None:
    """100,000 held messages stored, then due: the service's own deferred loop drains them."""
    now = datetime.now(UTC)
    async with ctx.sessions() as session, session.begin():  # so that due messages are sent, not held again
        await store.save_rules(session, TENANT, SendingRules(quiet_hours=False), now)
    cache.of(ctx).clear()
    base_rss = peak_rss_mb()

    def rows(start: int) -> list[dict]:  # as the pipeline leaves a message held by quiet hours
        return [dict(id=uuid.uuid4().hex, action_id=f"deferred-{label}-{n}", tenant_id=TENANT,
                     phone=f"+1212555{n % 10_000:04d}", from_number=NUMBER, body="Weekend sale: 20% off",
                     text="Weekend sale: 20% off", kind="marketing", status="deferred", rule="quiet_hours",
                     reason="quiet hours", segments=1, encoding="GSM-7", attempts=0,
                     next_attempt_at=now + timedelta(days=1), created_at=now, updated_at=now)
                for n in range(start, start + 5_000)]

    started = time.perf_counter()
    async with ctx.engine.begin() as conn:
        for i in range(0, DEFERRED, 5_000):
            await conn.execute(insert(OutboundMessage), rows(i))
    stored_s = time.perf_counter() - started
    await asyncio.sleep(2)  # the loop keeps polling the earliest due time meanwhile
    stored_rss = peak_rss_mb()
    async with ctx.engine.begin() as conn:  # the opening arrives for all of them at once
        await conn.execute(update(OutboundMessage).where(OutboundMessage.status == "deferred")
                           .values(next_attempt_at=datetime.now(UTC)))
    waiting = await count(ctx, "deferred")
    started = time.perf_counter()
    await asyncio.sleep(DRAIN_S)
    left = await count(ctx, "deferred")
    drain_s = time.perf_counter() - started
    report(f"deferred {label}", deferred=DEFERRED, insert_s=stored_s, drained=waiting - left,
           drained_per_s=(waiting - left) / drain_s, peak_rss_mb_before=base_rss,
           peak_rss_mb_stored=stored_rss, peak_rss_mb_draining=peak_rss_mb())


async def run(settings: Settings, label: str) -> None:
    async with running([service()], settings) as (app, _):
        ctx = app.state.ctx
        await seed(ctx)
        await throughput(ctx, label)
        await deferred(ctx, label)


async def main(profile: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, fake_twilio() as url:
        await _wait_for(url)
        common = dict(rate_limits=False, twilio_base_url=url, log_level="WARNING", log_format="console",
                      secret_key="bench-secret", partitions=8, data_dir=Path(tmp))
        if profile == "memory":
            await run(Settings(bus="memory", **common), "memory+sqlite")
            return
        async with fresh_postgres(database_url() or "") as scratch:
            await run(Settings(bus="kafka", kafka_bootstrap=kafka_bootstrap(), database_url=scratch,
                               topic_prefix=f"bench{uuid.uuid4().hex[:6]}.", **common), "kafka+postgresql")


if __name__ == "__main__":
    # Each profile in its own interpreter, so that peak memory figures are its own.
    if len(sys.argv) > 1:
        asyncio.run(main(sys.argv[1]))
    else:
        subprocess.check_call([sys.executable, "-m", "bench.sender", "memory"])
        if kafka_bootstrap() and database_url():
            subprocess.check_call([sys.executable, "-m", "bench.sender", "kafka"])
        else:
            print("sender kafka+postgresql      skipped: set PARLEY_TEST_KAFKA_BOOTSTRAP and "
                  "PARLEY_TEST_DATABASE_URL (make bench does)")
