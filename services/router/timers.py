"""Durable timers: flow timeouts, click follow-ups and no-click nudges, fired once.

`fire_due` claims one due timer per transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several
router replicas never fire the same timer; SQLite: the single writer lock), decides what it means,
publishes the result and only then commits the timer as fired. A crash before the commit leaves
it pending, so it fires later rather than never; the action ids are derived from the timer id, so
the sender still sends its message once.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import select, update

from libs.common.db.models.router import Timer
from libs.common.service import Ctx
from services.router import store
from services.router.consumer import decide_safely
from services.router.decide import decide_timer
from services.router.rules_cache import tenant_rules

log = structlog.get_logger("parley.router.timers")

POLL_SECONDS = 0.5


async def fire_due(ctx: Ctx, limit: int = 500) -> int:
    """Fire every timer due by `ctx.clock()`; returns how many fired."""
    fired = 0
    for _ in range(limit):
        outcome = await _fire_one(ctx)
        if outcome is None:
            break
        fired += outcome
    return fired


async def _fire_one(ctx: Ctx) -> int | None:
    """1 when a timer fired, 0 when another firer claimed it first, None when none is due."""
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        query = (select(Timer).where(Timer.status == "pending", Timer.due_at <= now)
                 .order_by(Timer.due_at).limit(1))
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        timer = await session.scalar(query)
        if timer is None:
            return None
        # The conditional update is the claim: on SQLite (no SKIP LOCKED) two firers may read the
        # same row, but only one of them changes it from pending.
        claimed = await session.execute(update(Timer).where(Timer.id == timer.id, Timer.status == "pending")
                                        .values(status="fired").execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            return 0
        conv = await store.conversation(session, timer.conversation_id)
        rules = await tenant_rules(ctx, session, timer.tenant_id)
        if conv is None or rules is None:
            return 1
        consent = await store.consent(session, timer.tenant_id, timer.phone)
        fx = decide_safely(lambda r, c, n: decide_timer(timer.kind, timer.step, c, r, timer.phone,
                                                        consent, n, timer.id), rules, conv, now, "timer")
        await store.apply(session, fx)
        for event in fx.events:  # published before the commit: a failure leaves the timer pending
            await ctx.bus.emit(event)
    log.info("timer_fired", tenant=timer.tenant_id, kind=timer.kind, step=timer.step, stage=fx.stage,
             sends=len(fx.sends))
    return 1


async def timer_loop(ctx: Ctx) -> None:
    while True:
        try:
            await fire_due(ctx)
        except Exception as exc:
            log.warning("timer_loop_error", error=repr(exc))
        await asyncio.sleep(POLL_SECONDS)
