"""Router: decisions per second of the matching pipeline alone, and of the whole pure decision.

The mix is realistic for a campaign step: 60% exact keywords, 20% synonyms, 10% typos (fuzzy),
5% numeric answers, 5% unmatched text — every reply first passing the compliance checks, as in
production. `pipeline` is normalise → compliance → match; `decide` adds building the actions
(pydantic events) for each reply; `compliance (unseen)` reads texts compliance has never seen, so
that its cache of short replies does not help. One core, one process.

    python -m bench.router
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from bench.common import report
from libs.common.events.sms_inbound import InboundSms
from services.router import matching
from services.router.compliance import classify
from services.router.decide import SubscriberState, TenantRules, decide
from services.router.effects import ConvState
from services.router.flows.model import Flow
from services.router.normalise import normalise

EXACT = ["SHOES", "bags", "Jackets", "shoes!", "BAGS.", "jackets please"]
SYNONYM = ["yeah", "yep", "Y", "sure", "ok", "nope", "nah"]
FUZZY = ["shose", "jakcets", "bgas", "shoez", "jackts"]
NUMERIC = ["1", "2", "3", "2 stars", "3/5"]
UNMATCHED = ["what time do you open", "asdf", "🎉", "call me", "lol"]

FLOW = Flow.model_validate({"id": "bench", "start": "ask", "steps": {"ask": {
    "prompt": "Reply SHOES, BAGS or JACKETS (or YES/NO, or 1-3)", "options": [
        {"keywords": ["SHOES"], "next": "ask"}, {"keywords": ["BAGS"], "next": "ask"},
        {"keywords": ["JACKETS"], "next": "ask"}, {"keywords": ["YES"], "next": "ask"},
        {"keywords": ["NO"]}, {"range": [1, 3], "next": "ask"}]}}})


def workload(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    pools = [(EXACT, 60), (SYNONYM, 20), (FUZZY, 10), (NUMERIC, 5), (UNMATCHED, 5)]
    bag = [pool for pool, weight in pools for _ in range(weight)]
    return [rng.choice(rng.choice(bag)) for _ in range(n)]


def bench_pipeline(texts: list[str]) -> float:
    from services.router.flows.engine import step_matcher

    compiled = step_matcher(FLOW.steps["ask"]).compiled
    started = time.perf_counter()
    for text in texts:
        norm = normalise(text)
        if classify(text, False) is None:
            matching.match(norm, compiled)
    return len(texts) / (time.perf_counter() - started)


def bench_compliance_unseen(rounds: int = 40) -> tuple[int, float]:
    """Compliance alone on texts it has not read before (the labelled corpus, each text made
    unique), so its caches of short replies never help: the cost of a new text."""
    from services.router import corpus

    texts = [f"{e.text} {i}" for i in range(rounds) for e in corpus.load()]
    started = time.perf_counter()
    for text in texts:
        classify(text, False)
    return len(texts), len(texts) / (time.perf_counter() - started)


def bench_decide(texts: list[str]) -> float:
    tenant = TenantRules.build("bench", "Bench", [], {"bench": FLOW})
    now = datetime(2026, 11, 20, tzinfo=UTC)
    msgs = [InboundSms(tenant_id="bench", phone="+15555550100", to="+15555550000", body=t,
                       carrier="simulator", carrier_message_id=str(i)) for i, t in enumerate(texts)]
    started = time.perf_counter()
    for msg in msgs:
        conv = ConvState(id="c", flow_id="bench", step="ask", status="active")
        decide(msg, tenant, SubscriberState("opted_in", conv), now)
    return len(msgs) / (time.perf_counter() - started)


def main() -> None:
    texts = workload(300_000)
    bench_pipeline(texts[:10_000])  # warm the caches
    report("router pipeline", replies=len(texts), decisions_per_s=bench_pipeline(texts))
    report("router decide (with actions)", replies=50_000, decisions_per_s=bench_decide(texts[:50_000]))
    unseen, per_s = bench_compliance_unseen()
    report("router compliance (unseen)", texts=unseen, texts_per_s=per_s)




# --- inbound → sms.outbound latency through each bus -------------------------------------------

async def _latency(settings, label: str, n: int = 300, burst: int = 2000) -> None:
    """Latency one message at a time (no queueing), then throughput of a burst."""
    import asyncio
    import uuid as _uuid

    from bench.common import ms, percentile
    from libs.common.events import sms_inbound, sms_outbound
    from libs.common.observability import configure_logging
    from libs.common.service import close_ctx, open_ctx, start_services
    from services.router import tenants
    from services.router.app import service as router

    configure_logging("console", "WARNING")  # one log line per decision would dominate the figures
    ctx = await open_ctx(settings)
    async with ctx.sessions() as session, session.begin():
        await tenants.create(session, "bench", "Bench", "Bench", None, ctx.clock())
    await start_services(ctx, [router()])
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    arrived = asyncio.Queue()

    async def outbound(cmd) -> None:
        if cmd.in_reply_to in sent_at:
            latencies.append(time.perf_counter() - sent_at.pop(cmd.in_reply_to))
            arrived.put_nowait(cmd)

    await ctx.bus.consume(sms_outbound.TOPIC, "bench-probe", outbound)

    async def send(j: int) -> None:
        msg = InboundSms(tenant_id="bench", phone=f"+1555555{j % 500:04d}", to="+15555550000",
                         body="HELP", carrier="simulator", carrier_message_id=_uuid.uuid4().hex)
        sent_at[msg.carrier_message_id] = time.perf_counter()
        await ctx.bus.publish(sms_inbound.TOPIC, msg.key, msg)

    await send(0)  # warm up: consumer groups joined, caches filled
    await asyncio.wait_for(arrived.get(), 120)
    latencies.clear()
    for j in range(n):
        await send(j)
        await asyncio.wait_for(arrived.get(), 60)
    one_by_one = list(latencies)
    started = time.perf_counter()
    await asyncio.gather(*(send(j) for j in range(burst)))
    for _ in range(burst):
        await asyncio.wait_for(arrived.get(), 300)
    elapsed = time.perf_counter() - started
    await close_ctx(ctx)
    report(label, messages=n, p50_ms=ms(percentile(one_by_one, 50)),
           p99_ms=ms(percentile(one_by_one, 99)), burst=burst, burst_per_s=burst / elapsed)


def latency() -> None:
    import asyncio
    import tempfile
    import uuid as _uuid
    from pathlib import Path

    from bench.common import database_url, kafka_bootstrap
    from libs.common.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_latency(Settings(bus="memory", data_dir=Path(tmp), log_level="WARNING"),
                             "router latency memory+sqlite"))
    if database_url() and kafka_bootstrap():
        asyncio.run(_latency_pg(Settings, database_url(), kafka_bootstrap(), _uuid.uuid4().hex[:8]))
    else:
        print("router latency kafka+pg     skipped: needs PARLEY_TEST_* servers (make bench)")


async def _latency_pg(settings_cls, url: str, bootstrap: str, suffix: str) -> None:
    from libs.common.testing.profiles import fresh_postgres

    async with fresh_postgres(url) as db_url:
        await _latency(settings_cls(bus="kafka", kafka_bootstrap=bootstrap, database_url=db_url,
                                    topic_prefix=f"bench{suffix}.", log_level="WARNING"),
                       "router latency kafka+pg")


if __name__ == "__main__":
    main()
    latency()
