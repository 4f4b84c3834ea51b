"""The deferred loop: sends messages whose time has come — quiet hours opened, a rate-limit slot
arrived, a busy carrier's retry time — takes over rows whose worker died (lease expired), and
looks up sends whose outcome is unknown once their carrier's list can tell (`recovery.py`).

All of its state is in `outbound_message` (`status`, `next_attempt_at`, `claim`, `lease_until`), so a
restart resumes where it stopped. Replicas split the work: rows are read with `FOR UPDATE SKIP
LOCKED` on PostgreSQL and claimed with a compare-and-set, so each is worked on by one replica. Every
due message goes through the whole pipeline again (consent is re-read, quiet hours and caps are
re-checked), so a STOP that arrived while it waited still stops it. One subscriber's messages are
handled in order; different subscribers' concurrently.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import structlog

from libs.common.events import Event
from libs.common.service import Ctx
from services.sender import attempt, recovery, sending, store

log = structlog.get_logger("parley.sender.deferred")

BATCH = 200
CONCURRENCY = 16
IDLE_S = 0.25  # longest sleep when nothing is due soon


async def _claim(ctx: Ctx, limit: int) -> tuple[str, list[tuple[str, str, str, int]]]:
    """(claim, [(id, status, phone, epoch)]) for the due rows this worker now holds."""
    now = ctx.clock()
    claim = f"loop:{uuid.uuid4().hex}"
    lease = now + attempt.lease(ctx)
    async with ctx.sessions() as session, session.begin():
        due = await store.due(session, now, limit)
        taken = await store.claim_deferred(session, [i for i, status, _, _ in due if status == "deferred"],
                                           claim, now, lease)
        held = [(i, status, phone, taken[i]) for i, status, phone, _ in due if i in taken]
        for message_id, status, phone, epoch in due:
            if status == "deferred":
                continue
            new_epoch = await store.take_over(session, message_id, status, epoch, claim, now, lease, None)
            if new_epoch is not None:  # its worker is gone (or its wait for a lookup is over)
                held.append((message_id, status, phone, new_epoch))
    return claim, held


async def _work(ctx: Ctx, claim: str, message_id: str, status: str, epoch: int) -> list[Event]:
    if status == "sending":
        return await recovery.recover_sending(ctx, message_id, claim, epoch)
    return await sending.process(ctx, message_id, claim, epoch)


async def _publish(ctx: Ctx, events: list[Event]) -> None:
    for event in events:
        try:
            await ctx.bus.emit(event)
        except Exception as exc:  # the message itself is settled; only the fact is late or lost
            log.error("fact_not_published", topic=event.TOPIC, error=repr(exc))


async def run_due(ctx: Ctx, limit: int = BATCH) -> int:
    """Work every message due by `ctx.clock()` (up to `limit`); returns how many were taken."""
    claim, held = await _claim(ctx, limit)
    by_phone: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for message_id, status, phone, epoch in held:
        by_phone[phone].append((message_id, status, epoch))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one_subscriber(items: list[tuple[str, str, int]]) -> None:
        async with gate:
            for message_id, status, epoch in items:
                try:
                    await _publish(ctx, await _work(ctx, claim, message_id, status, epoch))
                except Exception as exc:  # left claimed: the lease runs out and it is taken over
                    log.error("deferred_send_failed", message_id=message_id, error=repr(exc))

    await asyncio.gather(*(one_subscriber(items) for items in by_phone.values()))
    return len(held)


async def _idle_for(ctx: Ctx) -> float:
    async with ctx.sessions() as session:
        next_at = await store.next_due(session)
    if next_at is None:
        return IDLE_S
    return min(IDLE_S, max(0.01, (next_at - ctx.clock()).total_seconds()))


async def deferred_loop(ctx: Ctx) -> None:
    while True:
        try:
            if await run_due(ctx):
                continue
            pause = await _idle_for(ctx)
        except Exception as exc:
            log.warning("deferred_loop_error", error=repr(exc))
            pause = IDLE_S
        await asyncio.sleep(pause)
