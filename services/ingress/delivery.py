"""Delivering a webhook's events: claim their dedup keys, publish, mark them accepted, with no
database connection held while the bus is waited for.

The phases, each a short transaction of its own and none open during the publish:

1. Claim: each key is inserted as `pending` (INSERT … ON CONFLICT DO NOTHING), in key order, so
   concurrent claims of several keys cannot deadlock. A key already there is judged by
   `dedup.verdict`: `accepted` → duplicate (2xx, nothing published); `pending` and fresh → in
   flight (another copy is being published: 503 + Retry-After, and the carrier's retry finds it
   accepted); `failed`, or `pending` for longer than PARLEY_PUBLISH_TIMEOUT_S plus a margin → taken
   over by a compare-and-set on `claim_epoch` and published again. A concatenated part is stored
   (and the group it completes closed) in this same transaction (`concat.add`); a part that
   completes nothing is accepted here, with nothing to publish.
2. Publish: every claimed event in one `emit_many`, bounded by PARLEY_PUBLISH_TIMEOUT_S.
3. Settle: the keys become `accepted` and the closed groups are dropped; or, if the publish
   failed, the claims still held become `failed`, so the retry takes them over at once, and the
   webhook is answered 503.

No 2xx is given before phase 2 returned, so an accepted event is durably on the bus. If the
process dies (kill -9) at any point:
- before phase 1 commits: nothing was written; the carrier got no 2xx and retries; the retry
  claims the key as new.
- after phase 1, before the publish: the key is pending; a retry within the window is told 503,
  the first one after it takes the claim over and publishes (once; nothing had been published).
- during the publish or before phase 3 commits: the same, but the event may have reached the bus,
  so the take-over can publish it a second time, with the same event id and carrier message id
  (both derive from the key). Consumers deduplicate: the router on (tenant, carrier, carrier
  message id) in `router_processed_inbound` (a redelivery returns the events decided the first
  time), segmentation on the event id in `segmentation_processed_event`, and the sender applies a
  receipt through its delivery state machine, which only moves forward (a repeated status adds a
  history line and no fact) and records a carrier's opt-out once. A concatenated message keeps
  its parts in its closed group until phase 3, so the take-over (`concat.resume`), or the sweep
  after `concat.TIMEOUT`, publishes it again.
- after phase 3: the key is accepted; a retry is a duplicate, answered 2xx.
If phase 3 itself fails after a successful publish, the answer is still 2xx (the bus has the
events) and the keys stay pending: a later retry would publish again, deduplicated as above.

Two copies racing: on PostgreSQL the second INSERT waits for the first's (short) transaction and
then finds its row in flight; on SQLite writers take turns. Copies within one call are one claim.
Two retries taking over one stale claim: the compare-and-set lets one through. A claim never
resolved (a carrier that does not retry what it got no 2xx for) stays pending or failed until
ledger pruning (`received_at`, PARLEY_LEDGER_RETENTION_DAYS) removes it with the accepted rows.

`deliver` takes a list of accepts and uses one transaction per phase and one produce for all of
them, so concurrent webhooks can later be gathered into one call (group commit) unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bus import BusUnavailable
from libs.common.db.models.ingress import InboundDedup
from libs.common.events import Event
from libs.common.service import Ctx
from services.ingress import concat, dedup, store
from services.ingress.intake import Accept, stable_id

log = structlog.get_logger("parley.ingress.delivery")

Outcome = Literal["accepted", "duplicate", "part_stored", "in_flight"]


@dataclass(frozen=True)
class Step:
    """One accept through the phases: its outcome, and what it publishes under which claim."""

    accept: Accept
    outcome: Outcome
    epoch: int = 0
    events: tuple[Event, ...] = ()
    closed: tuple[store.GroupKey, ...] = ()  # concat groups to drop once published

    @property
    def key(self) -> store.DedupKey:
        return _key(self.accept)


async def deliver(ctx: Ctx, accepts: Sequence[Accept]) -> list[Step]:
    """Each accept's step, in order; raises BusUnavailable (after releasing the claims) when the
    bus did not take the events, and SQLAlchemyError when the claim could not be made."""
    steps = await claim(ctx, accepts)
    claimed = [step for step in steps if step.events]
    if claimed:
        try:
            await ctx.bus.emit_many([event for step in claimed for event in step.events])
        except BusUnavailable:
            await _release(ctx, claimed)
            raise
        await _settle(ctx, claimed)
    return steps


async def claim(ctx: Ctx, accepts: Sequence[Accept]) -> list[Step]:
    """Phase 1, one transaction: each accept's step, in the order given."""
    now, stale = ctx.clock(), dedup.stale_after(ctx.settings.publish_timeout_s)
    steps: dict[int, Step] = {}
    seen: set[store.DedupKey] = set()
    async with ctx.sessions() as session, session.begin():
        for i in sorted(range(len(accepts)), key=lambda i: _key(accepts[i])):
            accept = accepts[i]
            if _key(accept) in seen:  # the same message twice in one call
                steps[i] = Step(accept, "duplicate")
                continue
            seen.add(_key(accept))
            steps[i] = await _claim_one(session, accept, now, stale)
    return [steps[i] for i in range(len(accepts))]


async def _claim_one(session: AsyncSession, accept: Accept, now: datetime,
                     stale: timedelta) -> Step:
    if accept.previous_key:  # an id-less message: the previous content window's key holds it
        previous = await store.dedup_row(session, _key(accept, accept.previous_key))
        if previous is not None:
            return await _judge(session, _rekeyed(accept, accept.previous_key), previous, now,
                                stale)
    if await store.claim(session, _key(accept), accept.event.event_id, now):
        return await _claimed(session, accept, 0, now, resumed=False)
    row = await store.dedup_row(session, _key(accept))
    if row is None:  # pruned between the two statements: let the retry claim it
        return Step(accept, "in_flight")
    return await _judge(session, accept, row, now, stale)


async def _judge(session: AsyncSession, accept: Accept, row: InboundDedup, now: datetime,
                 stale: timedelta) -> Step:
    verdict = dedup.verdict(row.state, row.received_at, now, stale)
    if verdict == "duplicate":
        return Step(accept, "duplicate")
    if verdict == "take_over" and await store.take_over(session, _key(accept), row.claim_epoch, now):
        log.warning("dedup_claim_taken_over", tenant=accept.event.tenant_id,
                    carrier=accept.event.carrier, key=accept.dedup_key, state=row.state,
                    claimed_at=row.received_at.isoformat())
        return await _claimed(session, accept, row.claim_epoch + 1, now, resumed=True)
    return Step(accept, "in_flight")


async def _claimed(session: AsyncSession, accept: Accept, epoch: int, now: datetime,
                   resumed: bool) -> Step:
    """A claim this call holds: what it publishes (a part stores itself, or finds its group)."""
    if accept.concat is None:
        return Step(accept, "accepted", epoch, (accept.event,))
    closed = await (concat.resume if resumed else concat.add)(session, accept, now)
    if not closed.messages:
        await store.mark_accepted(session, [_key(accept)])  # stored; nothing to publish
        return Step(accept, "part_stored")
    return Step(accept, "accepted", epoch, tuple(closed.messages), tuple(closed.groups))


async def _settle(ctx: Ctx, claimed: list[Step]) -> None:
    """Phase 3. If it fails the bus still has the events, so the caller answers 2xx; the keys stay
    pending and a later retry would publish again, which consumers deduplicate."""
    try:
        async with ctx.sessions() as session, session.begin():
            await store.mark_accepted(session, [step.key for step in claimed])
            await concat.drop(session, [group for step in claimed for group in step.closed])
    except (SQLAlchemyError, OSError) as exc:
        log.warning("dedup_accept_failed", keys=len(claimed), error=type(exc).__name__)


async def _release(ctx: Ctx, claimed: list[Step]) -> None:
    """Phase 3 after a failed publish: the retry may take these claims over at once. If this fails
    too, they stay pending and are taken over once stale."""
    try:
        async with ctx.sessions() as session, session.begin():
            await store.mark_failed(session, [(step.key, step.epoch) for step in claimed])
    except (SQLAlchemyError, OSError) as exc:
        log.warning("dedup_release_failed", keys=len(claimed), error=type(exc).__name__)


def _key(accept: Accept, dedup_key: str | None = None) -> store.DedupKey:
    return accept.event.tenant_id, accept.event.carrier, dedup_key or accept.dedup_key


def _rekeyed(accept: Accept, key: str) -> Accept:
    """The same message under another content window's key, with that key's event id."""
    event = accept.event
    moved = event.model_copy(update={"carrier_message_id": key,
                                     "event_id": stable_id(event.tenant_id, event.carrier, key)})
    return dataclasses.replace(accept, event=moved, dedup_key=key, previous_key=None)
