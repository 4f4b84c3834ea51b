"""The send pipeline, shared by the `sms.outbound` consumer, `POST /v1/messages` and the deferred loop.

    admit    one transaction: the action's row (unique action_id) with its final text (tracked
             links, GSM-7 look-alikes), segments and links, then the checks (consent, quiet hours,
             caps, the rate bucket): `suppressed`, `deferred` (until an opening or a rate slot) or
             `sending`. A redelivered action fails the unique insert and resumes the row it finds.
    call     the carrier, outside any transaction (SQLite has one connection; PostgreSQL locks)
    settle   one transaction: `sent` / `failed` / `deferred` (carrier busy) with the carrier's id
             (`attempt.py`: the call and the settling, under the claim's fencing token)

A deferred row comes back through `process` (the same checks, consent re-read) when it is due.

A row is worked on by whoever holds its `claim` (the consumer of its action, the API call, or the
deferred loop) until `lease_until` (`attempt.lease`: sized from PARLEY_CARRIER_TIMEOUT_S). Every take-over
is a compare-and-set that bumps `claim_epoch`, and a worker records its verdict or outcome only while
the epoch it took the row with is still the row's, so two workers never both act on one row, and a
worker taken over can no longer overwrite what its successor did. A redelivered action holds the
same claim as its first delivery (`bus_claim`): it takes an `accepted` row at once, and a `sending`
one at once only on the simulator (which dedups by message id); elsewhere the first attempt may
still be in flight, so the row is taken when its lease ends. A row left in `sending` (a crash during
the call, or a call that got no answer) is recovered (`recovery.recover_sending`):
repeated where the carrier dedups, else looked up at the carrier and sent again only if the carrier
has no record of it; failed with rule `carrier_unknown` only when the carrier cannot tell. Every
path that returns without sending logs one `send_skipped` line saying why.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from libs.common.db.models.sender import Link, OutboundMessage
from libs.common.events import Event
from libs.common.events.sms_outbound import SendSms
from libs.common.service import Ctx
from services.sender import attempt, cache, caps, links, policy, rate_limit, recovery, store
from services.sender.carriers import SIMULATOR
from services.sender.facts import fact
from services.sender.lookalikes import to_gsm7
from services.sender.segments import count_segments, is_gsm7

FINAL = frozenset({"sent", "failed", "suppressed"})


def link_base(ctx: Ctx) -> str:
    s = ctx.settings
    return s.link_base_url or s.public_base_url or f"http://{s.host}:{s.port}"


def bus_claim(action_id: str) -> str:
    """The claim a consumer of this action holds: a redelivery of it may pick up where it left."""
    return f"bus:{action_id}"[:80]


# --- record --------------------------------------------------------------------------------------

def _compose(cmd: SendSms, rules: policy.SendingRules, base: str) -> tuple[str, list[links.TrackedLink]]:
    text, tracked = links.rewrite(cmd.body, base)
    return (to_gsm7(text) if rules.replace_lookalikes else text), tracked


async def record(ctx: Ctx, cmd: SendSms, claim: str) -> OutboundMessage:
    """Only record the action (`accepted`, under `claim`), as a worker that stops right after
    recording leaves it; `submit` records and checks in one transaction."""
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        rules = await cache.rules(ctx, session, cmd.tenant_id)
        return _new_row(cmd, rules, claim, now, now + attempt.lease(ctx), link_base(ctx), session)


def _new_row(cmd: SendSms, rules: policy.SendingRules, claim: str, now: datetime, lease_until: datetime,
             base: str, session) -> OutboundMessage:
    """The action's row in `accepted`, its tracked links and first history line, added to `session`."""
    text, tracked = _compose(cmd, rules, base)
    row = OutboundMessage(
        id=uuid.uuid4().hex, action_id=cmd.action_id, tenant_id=cmd.tenant_id, phone=cmd.phone,
        from_number=cmd.from_number, body=cmd.body, text=text, kind=cmd.kind, status="accepted",
        segments=count_segments(text), encoding="GSM-7" if is_gsm7(text) else "UCS-2",
        in_reply_to=cmd.in_reply_to, program_id=cmd.program_id, campaign_id=cmd.campaign_id,
        flow_id=cmd.flow_id, step=cmd.step, variant=cmd.variant, experiment_id=cmd.experiment_id,
        attempts=0, claim=claim, claim_epoch=0, lease_until=lease_until,
        created_at=now, updated_at=now)
    session.add(row)
    store.add_links(session, [
        Link(code=t.code, tenant_id=cmd.tenant_id, phone=cmd.phone, url=t.url, message_id=row.id,
             campaign_id=cmd.campaign_id, flow_id=cmd.flow_id, step=cmd.step, variant=cmd.variant,
             tag=t.tag, created_at=now, expires_at=now + t.ttl if t.ttl else None)
        for t in tracked])
    store.add_history(session, row.id, now, "accepted", None,
                      f"{cmd.kind}, {row.segments} segment(s) {row.encoding}"
                      + (f", {len(tracked)} tracked link(s)" if tracked else ""))
    return row


# --- decide --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Submitted:
    message_id: str
    created: bool  # False: the action was already recorded (a redelivery, a repeated API call)
    events: list[Event]


async def submit(ctx: Ctx, cmd: SendSms, claim: str) -> Submitted:
    """Send an action once: admit it (record and check in one transaction), call the carrier,
    settle. An action already recorded is resumed instead (`resume`)."""
    for _ in range(3):
        try:
            row, decision = await _admit(ctx, cmd, claim)
        except IntegrityError:  # recorded before (or, once in 2^72, a link code clashed: try again)
            async with ctx.sessions() as session:
                found = await store.message_for_action(session, cmd.action_id)
            if found is not None:
                return Submitted(found.id, False, await resume(ctx, found, claim))
            continue
        if isinstance(decision, attempt.Go):
            return Submitted(row.id, True, await attempt.call_and_settle(ctx, decision, claim))
        return Submitted(row.id, True, decision)
    raise RuntimeError(f"could not record action {cmd.action_id}")


async def _admit(ctx: Ctx, cmd: SendSms, claim: str) -> tuple[OutboundMessage, list[Event] | attempt.Go]:
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        rules = await cache.rules(ctx, session, cmd.tenant_id)
        row = _new_row(cmd, rules, claim, now, now + attempt.lease(ctx), link_base(ctx), session)
        with session.no_autoflush:  # one INSERT at commit, with the checks' verdict in it
            decision = await _checks(ctx, session, row, rules, now)
    return row, decision


async def process(ctx: Ctx, message_id: str, claim: str, epoch: int) -> list[Event]:
    """Checks and, when they pass, the carrier call, for a row in `accepted` held under `claim` at
    `epoch`."""
    decision = await _decide(ctx, message_id, claim, epoch)
    if not isinstance(decision, attempt.Go):
        return decision
    return await attempt.call_and_settle(ctx, decision, claim)


async def _decide(ctx: Ctx, message_id: str, claim: str, epoch: int) -> list[Event] | attempt.Go:
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        row = await attempt.holding(session, message_id, "accepted", claim, epoch,
                                    "taken over before its checks ran")
        if row is None:
            return []
        rules = await cache.rules(ctx, session, row.tenant_id)
        with session.no_autoflush:
            return await _checks(ctx, session, row, rules, now)


async def _checks(ctx: Ctx, session, row: OutboundMessage, rules: policy.SendingRules,
                  now: datetime) -> list[Event] | attempt.Go:
    """Consent, quiet hours and caps (`policy`), the number and its rate, its credentials; the row
    moves to `suppressed`, `failed`, `deferred` or `sending` in the caller's transaction."""
    opted_out = None
    if row.kind != "compliance":
        opted_out = await store.opted_out(session, row.tenant_id, row.phone, row.kind, row.program_id)
    counts, recent = (0, 0), []
    if row.kind == "marketing" and rules.frequency_caps.active:
        counts = await store.marketing_counts(session, row.tenant_id, row.phone, *caps.since(now))
    if row.kind == "marketing" and (state := policy.state_rule(row.phone, now, rules)) and state.limit:
        recent = await store.marketing_sent_times(session, row.tenant_id, row.phone, now - caps.DAY)
    verdict = policy.precheck(row.kind, row.phone, now, rules, opted_out, *counts, recent=recent)
    if verdict.action == "suppress":
        attempt.set_status(row, session, now, "suppressed", verdict.rule, verdict.reason)
        return attempt.done(row, now)
    if verdict.action == "defer":
        return attempt.defer(row, session, now, verdict.until, verdict.rule, verdict.reason)  # type: ignore[arg-type]
    number = await cache.number(ctx, session, row.tenant_id, row.from_number)
    if number is None:
        why = (f"{row.from_number} is not a registered sending number" if row.from_number
               else "the tenant has no registered sending number")
        attempt.set_status(row, session, now, "failed", "number", why)
        return attempt.done(row, now)
    row.from_number, row.carrier = number.number, number.carrier
    wait = await _rate_slot(ctx, session, row, number, now)
    if wait is not None:
        return attempt.defer(row, session, now, wait[0], "rate_limit", wait[1], rate_slot=wait[0])
    creds, problem = await attempt.credentials(ctx, session, row.tenant_id, number.carrier)
    if problem:
        attempt.set_status(row, session, now, "failed", "credentials", problem)
        return attempt.done(row, now)
    row.status, row.updated_at = "sending", now
    row.attempt_started_at, row.lease_until = now, now + attempt.lease(ctx)
    row.attempts += 1
    store.add_history(session, row.id, now, "sending", None, f"via {number.carrier} from {number.number}")
    return attempt.Go(row, number, creds, row.claim_epoch)


async def _rate_slot(ctx: Ctx, session, row: OutboundMessage, number: cache.Number,
                     now: datetime) -> tuple[datetime, str] | None:
    """None when the message may go now; else its reserved slot and why it waits for it."""
    rate = rate_limit.rate_for(ctx.settings, number.carrier, number.number_type, number.rate_per_s)
    if rate is None or (row.rate_slot_at is not None and row.rate_slot_at <= now):
        return None  # unlimited, or this message already holds a slot that has come
    bucket = await store.bucket_tat(session, row.tenant_id, number.number, now)
    reservation = rate_limit.reserve(bucket.tat, now, rate, cost=row.segments)
    bucket.tat = reservation.tat
    if reservation.send_at <= now:
        return None
    return reservation.send_at, (f"rate limit: {rate:g} segment(s)/s on {number.number} "
                                 f"({number.number_type}); slot at {reservation.send_at:%H:%M:%S.%f} UTC")


# --- picking up where someone left off -----------------------------------------------------------

def _may_take_at_once(row: OutboundMessage, claim: str) -> str | None:
    """The holder whose lease need not run out before `claim` takes the row. `accepted`: anyone
    (the move to `sending` is guarded by the epoch). `sending`: the same claim on the simulator
    (its message-id key makes a repeat one message even while the first is in flight); anywhere
    else the first attempt may still be in flight, so its lease must end first."""
    if row.status == "accepted":
        return row.claim
    if row.status == "sending" and row.claim == claim and row.carrier == SIMULATOR:
        return claim
    return None


async def resume(ctx: Ctx, row: OutboundMessage, claim: str) -> list[Event]:
    """A row found already recorded (a redelivery, a retried API call, an expired lease)."""
    now = ctx.clock()
    if row.status in FINAL:
        attempt.skip("already final: its fact is published again", row.id, row, claim, None)
        return [fact(row, row.status, row.updated_at or now)]
    if row.status == "deferred":
        attempt.skip(f"deferred until {row.next_attempt_at}: the deferred loop sends it", row.id, row, claim,
                     None)
        return []
    async with ctx.sessions() as session, session.begin():
        epoch = await store.take_over(session, row.id, row.status, row.claim_epoch, claim, now,
                                      now + attempt.lease(ctx), _may_take_at_once(row, claim))
    if epoch is None:
        why = ("its first attempt under this claim may still be in flight: recovered once the lease ends"
               if row.claim == claim else "held by another worker whose lease runs, or changed meanwhile")
        attempt.skip(why, row.id, row, claim, None)
        return []
    if row.status == "accepted":
        return await process(ctx, row.id, claim, epoch)
    return await recovery.recover_sending(ctx, row.id, claim, epoch)


