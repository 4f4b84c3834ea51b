"""Segments at scale on PostgreSQL: generate subscribers with labels and scores plus their
reply/click events, then time counting and paging the issue's example segment and enrolling
every member of a ~100,000-subscriber segment through a broadcast.

    python -m bench.segments [--subscribers 1000000] [--events 10000000]

Needs a PostgreSQL server (`make bench` starts one and exports PARLEY_TEST_DATABASE_URL); works
in a scratch database it drops afterwards. Data is generated server-side with
INSERT … SELECT generate_series (seeded), the interaction indexes built after the load.
Enrollment publishes to the in-memory bus, so it times the database side of pacing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url

from libs.common.bus.memory import MemoryBus
from libs.common.config import Settings
from libs.common.db.migrate import upgrade
from libs.common.db.models.segmentation import Broadcast, Interaction
from libs.common.db.session import make_engine, make_sessionmaker
from libs.common.service import Ctx
from services.segmentation import jobs, rules
from services.segmentation.store import broadcasts as broadcast_store
from services.segmentation.store import segments

TENANT = "bench"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EXAMPLE = {"all": [{"label": "interest:shoes"},
                   {"clicked": {"within_days": 14, "tag": "shoe-offer"}},
                   {"score": {"gt": 70}}]}
INTERESTS = ["shoes", "boots", "sandals", "socks", "bags", "hats", "coats", "shirts", "jeans", "belts",
             "watches", "scarves", "gloves", "sneakers", "heels", "loafers", "sport", "kids", "sale",
             "new"]
TAGS = ["shoe-offer", "boot-offer", "sale", "new-in", "vip", "restock", "survey", "blog", "store",
        "app"]


def phone_sql(expr: str) -> str:
    return f"'+1555' || lpad(({expr})::text, 7, '0')"


def generation(n: int, events: int) -> list[tuple[str, str]]:
    """(what, SQL) steps; every random() follows one setseed, so runs are repeatable."""
    now = f"'{NOW.isoformat()}'::timestamptz"
    interests = "ARRAY[" + ",".join(f"'interest:{i}'" for i in INTERESTS) + "]"
    tags = "ARRAY[" + ",".join(f"'{t}'" for t in TAGS) + "]"
    return [
        ("subscribers", f"""
            INSERT INTO subscriber (tenant_id, phone, consent, first_seen_at, last_interaction_at,
                                    replies, messages_received, clicks, score, quiet_decays,
                                    next_decay_at)
            SELECT '{TENANT}', {phone_sql('g')},
                   CASE WHEN random() < 0.05 THEN 'opted_out' ELSE 'opted_in' END,
                   {now} - random() * interval '180 days', {now} - random() * interval '60 days',
                   0, 0, 0, floor(random() * 101)::int, 0, {now} + random() * interval '30 days'
            FROM generate_series(1, {n}) g"""),
        ("labels (2 of 20 interests each)", f"""
            INSERT INTO subscriber_label (tenant_id, phone, label, source, applied_at)
            SELECT '{TENANT}', {phone_sql('g')}, ({interests})[1 + (g + k * (1 + g % 19)) % 20],
                   'event', {now}
            FROM generate_series(1, {n}) g, generate_series(0, 1) k"""),
        ("events (60% replies, 40% clicks, 90 days)", f"""
            INSERT INTO interaction (tenant_id, phone, kind, at, source_id, campaign_id, tag,
                                     keyword, recognised, latency_s, reply_triggered)
            SELECT '{TENANT}', {phone_sql('1 + floor(r1 * ' + str(n) + ')::int')},
                   CASE WHEN r2 < 0.4 THEN 'click' ELSE 'reply' END,
                   {now} - r3 * interval '90 days', 'e' || g, 'c' || floor(r4 * 20)::int,
                   CASE WHEN r2 < 0.4 THEN ({tags})[1 + floor(r4 * 10)::int] END,
                   CASE WHEN r2 >= 0.4 AND r4 < 0.5 THEN 'YES' END,
                   CASE WHEN r2 >= 0.4 THEN r4 < 0.5 END,
                   CASE WHEN r2 >= 0.4 THEN r1 * 3600 END,
                   CASE WHEN r2 < 0.4 THEN r4 < 0.3 END
            FROM (SELECT g, random() r1, random() r2, random() r3, random() r4
                  FROM generate_series(1, {events}) g) s"""),
    ]


async def scratch_database(url: str) -> tuple[str, dict]:
    parsed = make_url(url)
    dsn = dict(host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database,
               password=parsed.password)
    name = "bench_segments_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(**dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return parsed.set(database=name).render_as_string(hide_password=False), dsn | {"name": name}


async def drop_database(dsn: dict) -> None:
    name = dsn.pop("name")
    conn = await asyncpg.connect(**dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def report(what: str, seconds: float, extra: str = "") -> None:
    print(f"  {what:<52} {seconds:8.2f} s  {extra}", flush=True)


async def load(engine, n: int, events: int) -> None:
    indexes = [ix for ix in Interaction.__table__.indexes]
    async with engine.begin() as conn:
        for ix in indexes:  # bulk load first, index after: far faster than maintaining them
            await conn.execute(text(f'DROP INDEX "{ix.name}"'))
        await conn.execute(text("SELECT setseed(0.42)"))
        for what, sql in generation(n, events):
            started = time.perf_counter()
            result = await conn.execute(text(sql))
            report(f"generate {what}", time.perf_counter() - started, f"{result.rowcount:,} rows")
    for ix in indexes:
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.run_sync(lambda c, ix=ix: ix.create(c))
        report(f"index {ix.name}", time.perf_counter() - started)
    started = time.perf_counter()
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    report("vacuum analyze", time.perf_counter() - started)


async def time_segment(sessions, raw: dict, runs: int = 5) -> int:
    node = rules.parse(raw)
    timings, count = [], 0
    for _ in range(runs):
        async with sessions() as session:
            started = time.perf_counter()
            count = await segments.count(session, TENANT, node, NOW)
            timings.append(time.perf_counter() - started)
    report("count example segment (first run)", timings[0], f"{count:,} members")
    report(f"count example segment (median of {runs})", statistics.median(timings))
    started, after, pages, seen = time.perf_counter(), None, 0, 0
    async with sessions() as session:
        while True:
            page = await segments.page(session, TENANT, node, NOW, 1000, after)
            pages, seen = pages + 1, seen + len(page)
            if len(page) < 1000:
                break
            after = page[-1].phone
    elapsed = time.perf_counter() - started
    report("page through example segment (1,000 a page)", elapsed,
           f"{pages} pages, {seen:,} rows, {elapsed / pages * 1000:.1f} ms a page")
    return count


async def time_enrollment(settings: Settings, engine, sessions) -> None:
    raw = {"label": "interest:shoes"}
    node = rules.parse(raw)
    async with sessions() as session:
        size = await segments.count(session, TENANT, node, NOW)
    bus = MemoryBus(partitions=8)
    ctx = Ctx(settings=settings, bus=bus, engine=engine, sessions=sessions, clock=lambda: NOW)
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        session.add(Broadcast(tenant_id=TENANT, id="bench", segment_id="shoes", body="Hi!",
                              state="running", rate_per_minute=1_000_000, reply_window_hours=72,
                              audience=0, enrolled=0, skipped=0, credit=0.0, paced_at=NOW,
                              created_at=NOW))
        audience = await broadcast_store.resolve_audience(session, TENANT, "bench", node, NOW)
    report("launch: resolve audience (INSERT … SELECT)", time.perf_counter() - started,
           f"{audience:,} of {size:,} members (opted-out left out)")
    started, now, enrolled = time.perf_counter(), NOW, 0
    while True:
        now += timedelta(seconds=1)
        got = await jobs.pace_once(ctx, now)
        enrolled += got
        if got == 0:
            break
    elapsed = time.perf_counter() - started
    report("enroll the whole audience (pacing ticks)", elapsed,
           f"{enrolled:,} enrollments, {enrolled / elapsed:,.0f}/s")
    await bus.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    url = os.environ.get("PARLEY_TEST_DATABASE_URL")
    if not url:
        print("bench.segments needs PostgreSQL: run it with `make bench` (or set "
              "PARLEY_TEST_DATABASE_URL); skipped.")
        return 0
    print(f"segments: {args.subscribers:,} subscribers, {args.events:,} events, PostgreSQL", flush=True)
    db_url, dsn = await scratch_database(url)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    engine = make_engine(db_url)
    try:
        await upgrade(engine, "0004_segmentation")  # only what this benchmark needs
        await load(engine, args.subscribers, args.events)
        sessions = make_sessionmaker(engine)
        await time_segment(sessions, EXAMPLE)
        await time_enrollment(Settings(database_url=db_url), engine, sessions)
    finally:
        await engine.dispose()
        await drop_database(dsn)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
