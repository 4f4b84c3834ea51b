"""Periodic jobs, run as the service's loops: score decay, broadcast pacing and automatic
promotion of experiment winners. Each `*_once(ctx, now)` does one pass and is what tests call;
the loops call them every few seconds with `ctx.clock()`. All three are safe to run in several
replicas at once (row locks) and to repeat (their state is in the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from libs.common.events.campaign_enrolled import CampaignEnrolled
from libs.common.service import Ctx
from services.segmentation import broadcasts, experiments, scoring
from services.segmentation.store import broadcasts as broadcast_store
from services.segmentation.store import experiments as experiment_store
from services.segmentation.store import profiles as profile_store
from services.segmentation.telemetry import COUNTERS

log = structlog.get_logger("parley.segmentation")

DECAY_EVERY_S = 300.0
PACE_EVERY_S = 1.0
PROMOTE_EVERY_S = 30.0
DECAY_BATCH = 500


# --- score decay --------------------------------------------------------------------------------

async def decay_once(ctx: Ctx, now: datetime) -> int:
    """Apply every quiet-period decay due by `now`; returns how many were applied."""
    applied = 0
    while True:
        async with ctx.sessions() as session, session.begin():
            rows = await profile_store.due_for_decay(session, now, DECAY_BATCH)
            weights: dict[str, dict[str, int]] = {}
            for row in rows:
                if row.tenant_id not in weights:
                    weights[row.tenant_id] = await profile_store.weights(session, row.tenant_id)
                anchor = scoring.decay_anchor(row.first_seen_at, row.last_interaction_at)
                due = scoring.decays_due(anchor, row.quiet_decays, now)
                for at in due:
                    await profile_store.add_score(session, row, "decay", scoring.decay_ref(anchor, at),
                                                  weights[row.tenant_id]["decay"], at)
                row.quiet_decays += len(due)
                row.next_decay_at = scoring.next_decay_at(anchor, row.quiet_decays)
                applied += len(due)
        if len(rows) < DECAY_BATCH:
            return applied


# --- broadcast pacing ---------------------------------------------------------------------------

async def pace_once(ctx: Ctx, now: datetime) -> int:
    """Enroll what each running broadcast's pace allows by `now`; returns enrollments published."""
    async with ctx.sessions() as session:
        running = await broadcast_store.running(session)
    total = 0
    for tenant_id, broadcast_id in running:
        total += await _pace(ctx, tenant_id, broadcast_id, now)
    return total


async def _pace(ctx: Ctx, tenant_id: str, broadcast_id: str, now: datetime) -> int:
    async with ctx.sessions() as session, session.begin():
        b = await broadcast_store.claim(session, tenant_id, broadcast_id)
        if b is None:
            return 0
        allow = broadcasts.allowance(b.rate_per_minute, b.credit, b.paced_at, now)
        b.credit, b.paced_at = allow.credit, max(b.paced_at, now)
        if allow.count == 0:
            return 0
        batch = await broadcast_store.pending(session, tenant_id, broadcast_id, b.cursor, allow.count)
        enroll = [phone for phone, consent in batch if consent != "opted_out"]
        skip = [phone for phone, consent in batch if consent == "opted_out"]
        # Published before the rows are marked: a crash in between republishes the same
        # enrollment ids, which the router starts only once.
        await asyncio.gather(*(ctx.bus.emit(CampaignEnrolled(
            tenant_id=tenant_id, phone=phone, enrollment_id=broadcasts.enrollment_id(b.id, phone),
            broadcast_id=b.id, flow_id=b.flow_id, body=b.body, variant=b.variant, occurred_at=now))
            for phone in enroll))
        if batch:
            await broadcast_store.mark_skipped(session, tenant_id, broadcast_id, skip)
            await broadcast_store.mark_enrolled(session, tenant_id, broadcast_id, b.cursor,
                                                batch[-1][0], now,
                                                now + timedelta(hours=b.reply_window_hours))
            b.cursor = batch[-1][0]
        b.enrolled += len(enroll)
        b.skipped += len(skip)
        if len(batch) < allow.count:
            b.state, b.finished_at = "completed", now
    COUNTERS["enrollments"].labels(tenant=tenant_id, campaign=broadcast_id).inc(len(enroll))
    log.info("broadcast_paced", tenant=tenant_id, broadcast=broadcast_id, enrolled=len(enroll),
             skipped=len(skip))
    return len(enroll)


# --- experiments --------------------------------------------------------------------------------

async def promote_once(ctx: Ctx, now: datetime) -> list[tuple[str, str, str]]:
    """Promote each auto-promoting experiment whose leader passed its threshold."""
    promoted = []
    async with ctx.sessions() as session, session.begin():
        for exp in await experiment_store.auto_candidates(session):
            arms = experiment_store.arms(await experiment_store.variants(session, exp.tenant_id,
                                                                         exp.id))
            winner = experiments.auto_winner(exp.id, arms, exp.threshold, exp.min_sends)
            if winner is not None:
                exp.state, exp.winner, exp.promoted_by, exp.promoted_at = (
                    "promoted", winner, "auto", now)
                promoted.append((exp.tenant_id, exp.id, winner))
                log.info("experiment_promoted", tenant=exp.tenant_id, experiment=exp.id,
                         winner=winner, by="auto")
    return promoted


def _every(seconds: Callable[[], float], job: Callable[[Ctx, datetime], Awaitable[object]],
           name: str) -> Callable[[Ctx], Awaitable[None]]:
    async def loop(ctx: Ctx) -> None:
        while True:
            await asyncio.sleep(seconds())
            try:
                await job(ctx, ctx.clock())
            except Exception as exc:  # a database blip must not end the loop
                log.warning("job_failed", job=name, error=repr(exc))

    loop.__name__ = name
    return loop


decay_loop = _every(lambda: DECAY_EVERY_S, decay_once, "score_decay")
pacing_loop = _every(lambda: PACE_EVERY_S, pace_once, "broadcast_pacing")
promotion_loop = _every(lambda: PROMOTE_EVERY_S, promote_once, "experiment_promotion")

LOOPS = (decay_loop, pacing_loop, promotion_loop)
