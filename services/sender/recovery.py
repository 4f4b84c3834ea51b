"""What becomes of a send whose outcome is unknown — its worker died during the carrier call, or the
carrier took the request and never answered: `recover_sending`, with its decisions pure (`decide`).

Where the carrier dedups (Telnyx's Idempotency-Key, the simulator's message id) the call is repeated.
Elsewhere the carrier's own message list is searched (`carriers/<name>/client.py`, `build_lookup` /
`read_lookup`), and only a message the carrier has no record of is sent again — once.

Windows. An attempt (`carriers.delivery.deliver`) is cut off after `attempt_window`; the row's lease
(`attempt.lease`) is that plus a margin, so once the lease has run out nothing the attempt sent can
still be on its way. A carrier's list may show an accepted message a little later (`LOOKUP_LAG_S`):
the lookup is made at attempt start + lease + lag (`attempt.look_at`), and searches from the attempt
start (less `SKEW`, for clocks that differ) to the end of its lease. Before that the row waits in
`sending`, and the deferred loop takes it when it is due. Each lookup and resend is counted in
`parley_send_reconciliations_total{carrier,outcome}` and written in the message's history.

Residual risk, stated plainly: a worker paused (a frozen VM, a stop-the-world pause) for longer than
its lease between deciding to send and sending would send after the lookup; a carrier whose list
lags more than `LOOKUP_LAG_S` would hide a message that went out (Parley then sends it again). Where
the list carries no text (Bandwidth, Plivo), another message of the same number pair, size and
seconds counts as this one (it is then sent never, rather than twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from libs.common.db.models.sender import OutboundMessage
from libs.common.events import Event
from libs.common.observability import RECONCILIATIONS
from libs.common.service import Ctx
from services.sender import attempt, cache, store
from services.sender.carriers import CLIENTS
from services.sender.carriers.base import Found, Lookup, NotFound, Retry, Sent, Sought, Unknown
from services.sender.carriers.delivery import find

log = structlog.get_logger("parley.sender")

SKEW = timedelta(seconds=2)
LOOK_AGAIN = timedelta(seconds=30)  # after the list answered 429/5xx or not at all
GIVE_UP = timedelta(minutes=15)  # a list that will not answer for this long leaves it unknown
MAX_RESENDS = 1


@dataclass(frozen=True)
class Settle:
    """Record this outcome now: `Sent` (found) or `Unknown` (failed, rule carrier_unknown)."""

    outcome: Sent | Unknown
    metric: str  # parley_send_reconciliations_total{outcome}
    note: str = ""  # a history line of its own (an Unknown's reason is in its `failed` line)


@dataclass(frozen=True)
class Resend:
    note: str


@dataclass(frozen=True)
class LookLater:
    at: datetime
    why: str


Step = Settle | Resend | LookLater


def sought(row: OutboundMessage, started: datetime, lease: timedelta, known: frozenset[str]) -> Sought:
    return Sought(message_id=row.id, to=row.phone, from_=row.from_number or "", text=row.text or row.body,
                  segments=row.segments, since=started - SKEW, until=started + lease, known=known)


def decide(verdict: Lookup | None, carrier: str, *, resends: int, now: datetime,
           first_look: datetime) -> Step:
    """The next step after a lookup (None: the carrier has no list to search)."""
    if verdict is None:
        return Settle(Unknown(f"{carrier} offers no message list to look the message up in"), "unknown")
    if isinstance(verdict, Found):  # the list's status is not the verdict: receipts (kept or to come) are
        first = "queued" if verdict.status == "queued" else "sent"
        return Settle(Sent(verdict.carrier_message_id, first), "found_sent",
                      f"found at {carrier} as {verdict.carrier_message_id} ({verdict.status}): the "
                      "interrupted attempt went out")
    if isinstance(verdict, NotFound):
        if resends >= MAX_RESENDS:
            return Settle(Unknown(f"{verdict.reason}, after it was already sent again once"), "unknown")
        return Resend(f"{verdict.reason}: the interrupted attempt never reached it; sending it again")
    if isinstance(verdict, Retry):
        if now >= first_look + GIVE_UP:
            return Settle(Unknown(f"{carrier}'s message list did not answer for {GIVE_UP}: {verdict.reason}"),
                          "unknown")
        return LookLater(now + max(LOOK_AGAIN, timedelta(seconds=verdict.after or 0)), verdict.reason)
    return Settle(verdict, "unknown")


# --- the shell ------------------------------------------------------------------------------------

async def recover_sending(ctx: Ctx, message_id: str, claim: str, epoch: int) -> list[Event]:
    """The carrier call of a row left in `sending` (held under `claim` at `epoch`) was interrupted
    or got no answer. Repeat it where the carrier dedups; elsewhere look it up (`_reconcile`)."""
    async with ctx.sessions() as session:
        row = await session.get(OutboundMessage, message_id)
        if not attempt.held(row, "sending", claim, epoch):
            attempt.skip("taken over before its recovery ran", message_id, row, claim, epoch)
            return []
        number = await cache.number(ctx, session, row.tenant_id, row.from_number)
        carrier = number.carrier if number is not None else row.carrier or "none"
        creds, problem = await attempt.credentials(ctx, session, row.tenant_id, carrier)
        if number is None:
            problem = f"{row.from_number} is no longer a registered sending number"
        known = await store.known_carrier_ids(session, row, attempt.started(row) - timedelta(days=1))
        resends = await store.history_count(session, message_id, "reconcile_resend")
    if problem or number is None:
        RECONCILIATIONS.labels(carrier=carrier, outcome="unknown").inc()
        return await attempt.settle(ctx, message_id, claim, epoch, Unknown(problem or "no sending number"))
    go = attempt.Go(row, number, creds, epoch)
    if carrier in attempt.DEDUPED:
        RECONCILIATIONS.labels(carrier=carrier, outcome="repeated").inc()
        log.info("send_repeated_after_interruption", tenant=row.tenant_id, message_id=row.id, carrier=carrier)
        return await attempt.call_and_settle(ctx, go, claim)
    return await _reconcile(ctx, go, claim, known, resends)


async def _reconcile(ctx: Ctx, go: attempt.Go, claim: str, known: frozenset[str],
                     resends: int) -> list[Event]:
    row, client, now = go.row, CLIENTS[go.number.carrier], ctx.clock()
    first_look = attempt.look_at(ctx, row)
    if now < first_look:
        return await _wait(ctx, row.id, claim, go.epoch, "the attempt may still reach the carrier",
                           first_look)
    base = (getattr(ctx.settings, f"{client.NAME}_reports_base_url", None)
            or getattr(ctx.settings, f"{client.NAME}_base_url"))
    verdict = await find(client, sought(row, attempt.started(row), attempt.lease(ctx), known), go.creds or {},
                         http=attempt.tools(ctx).http, base_url=base)
    step = decide(verdict, client.NAME, resends=resends, now=now, first_look=first_look)
    log.info("send_looked_up", tenant=row.tenant_id, message_id=row.id, carrier=client.NAME,
             verdict=repr(verdict), step=repr(step))
    if isinstance(step, LookLater):
        return await _wait(ctx, row.id, claim, go.epoch, f"the message list cannot be read now ({step.why})",
                           step.at)
    if isinstance(step, Settle):
        RECONCILIATIONS.labels(carrier=client.NAME, outcome=step.metric).inc()
        return await attempt.settle(ctx, row.id, claim, go.epoch, step.outcome, note=step.note)
    stopped = await _restart_attempt(ctx, row.id, claim, go.epoch, step.note)
    if stopped is not None:
        return stopped
    RECONCILIATIONS.labels(carrier=client.NAME, outcome="not_found_resent").inc()
    return await attempt.call_and_settle(ctx, go, claim)


async def _wait(ctx: Ctx, message_id: str, claim: str, epoch: int, why: str, at: datetime) -> list[Event]:
    async with ctx.sessions() as session, session.begin():
        row = await attempt.holding(session, message_id, "sending", claim, epoch,
                                    "taken over while waiting to be looked up")
        if row is None:
            return []
        return attempt.look_up_later(ctx, row, session, ctx.clock(), why, claim, epoch, at)


async def _restart_attempt(ctx: Ctx, message_id: str, claim: str, epoch: int,
                           note: str) -> list[Event] | None:
    """The carrier has no record of the message: a new attempt under the same fencing token (None),
    unless consent was withdrawn meanwhile (the row is suppressed: its facts) or it was taken over."""
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        row = await attempt.holding(session, message_id, "sending", claim, epoch,
                                    "taken over before it was sent again")
        if row is None:
            return []
        opted_out = None if row.kind == "compliance" else await store.opted_out(
            session, row.tenant_id, row.phone, row.kind, row.program_id)
        if opted_out:
            attempt.set_status(row, session, now, "suppressed", "consent",
                               f"{opted_out} before it could be sent again")
            return attempt.done(row, now)
        row.attempt_started_at, row.lease_until, row.updated_at = now, now + attempt.lease(ctx), now
        store.add_history(session, row.id, now, "sending", "reconcile_resend", note)
    log.info("send_resent_after_lookup", tenant=row.tenant_id, message_id=message_id, carrier=row.carrier)
    return None
