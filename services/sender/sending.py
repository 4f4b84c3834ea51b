"""The send pipeline, shared by the `sms.outbound` consumer, `POST /v1/messages` and the deferred loop.

    admit    one transaction: the action's row (unique action_id) with its final text (tracked
             links, GSM-7 look-alikes), segments and links, then the checks (consent, quiet hours,
             caps, the rate bucket): `suppressed`, `deferred` (until an opening or a rate slot) or
             `sending`. A redelivered action fails the unique insert and resumes the row it finds.
    call     the carrier, outside any transaction (SQLite has one connection; PostgreSQL locks)
    settle   one transaction: `sent` / `failed` / `deferred` (carrier busy) with the carrier's id

A deferred row comes back through `process` (the same checks, consent re-read) when it is due.

A row is worked on by whoever holds its `claim` (the consumer of its action, the API call, or the
deferred loop) until `lease_until`; the move to `sending` is a compare-and-set, so two workers never
both call the carrier. A worker that finds a row left in `sending` (a crash during the carrier
call) repeats the call only when the carrier dedups it (idempotency key, or the simulator's
message-id key); otherwise the outcome is unknown and the message is failed, never sent twice.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy.exc import IntegrityError

from libs.common.db.models.sender import Link, OutboundMessage
from libs.common.events import Event
from libs.common.events.sms_outbound import SendSms
from libs.common.observability import MESSAGES_SENT
from libs.common.phone import mask
from libs.common.service import Ctx
from services.sender import cache, caps, delivery_status, links, policy, rate_limit, receipts, store
from services.sender.carriers import CLIENTS, SIMULATOR
from services.sender.carriers.base import Failed, MissingCredentials, Outcome, Outgoing, Retry, Sent
from services.sender.carriers.delivery import DEFAULT_POLICY, RetryPolicy, Sleep, deliver, new_http_client
from services.sender.carriers.simulator import client as simulator
from services.sender.facts import consent_fact, fact
from services.sender.lookalikes import to_gsm7
from services.sender.segments import count_segments, is_gsm7

log = structlog.get_logger("parley.sender")

LEASE = timedelta(minutes=2)  # longer than a carrier call with its in-process retries
FINAL = frozenset({"sent", "failed", "suppressed"})
MAX_CARRIER_ROUNDS = 8  # deferred retries after the in-process ones, before giving up
DEDUPED = frozenset({SIMULATOR, *(name for name, c in CLIENTS.items() if c.IDEMPOTENT)})


@dataclass
class Tools:
    """Per-process resources: the pooled HTTP client, and the sleep used between quick retries."""

    http: httpx.AsyncClient
    sleep: Sleep = asyncio.sleep
    policy: RetryPolicy = DEFAULT_POLICY


def tools(ctx: Ctx) -> Tools:
    if "sender" not in ctx.state:
        ctx.state["sender"] = Tools(new_http_client(ctx.settings.carrier_timeout_s))
        ctx.closers.append(ctx.state["sender"].http.aclose)
    return ctx.state["sender"]


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
        return _new_row(cmd, await cache.rules(ctx, session, cmd.tenant_id), claim, now, link_base(ctx),
                        session)


def _new_row(cmd: SendSms, rules: policy.SendingRules, claim: str, now: datetime, base: str,
             session) -> OutboundMessage:
    """The action's row in `accepted`, its tracked links and first history line, added to `session`."""
    text, tracked = _compose(cmd, rules, base)
    row = OutboundMessage(
        id=uuid.uuid4().hex, action_id=cmd.action_id, tenant_id=cmd.tenant_id, phone=cmd.phone,
        from_number=cmd.from_number, body=cmd.body, text=text, kind=cmd.kind, status="accepted",
        segments=count_segments(text), encoding="GSM-7" if is_gsm7(text) else "UCS-2",
        in_reply_to=cmd.in_reply_to, program_id=cmd.program_id, campaign_id=cmd.campaign_id,
        flow_id=cmd.flow_id, step=cmd.step, variant=cmd.variant, experiment_id=cmd.experiment_id,
        attempts=0, claim=claim, lease_until=now + LEASE,
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


def _log(row: OutboundMessage) -> None:
    MESSAGES_SENT.labels(carrier=row.carrier or "none", outcome=row.status).inc()
    log.info("send_" + row.status, tenant=row.tenant_id, phone=mask(row.phone), kind=row.kind,
             rule=row.rule, reason=row.reason, message_id=row.id)


def _set(row: OutboundMessage, session, now: datetime, status: str, rule: str | None,
         reason: str | None) -> None:
    row.status, row.rule, row.reason, row.updated_at = status, rule, reason, now
    store.add_history(session, row.id, now, status, rule, reason)


# --- decide --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Go:
    row: OutboundMessage
    number: cache.Number
    creds: dict[str, str] | None


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
        if isinstance(decision, _Go):
            return Submitted(row.id, True, await _call_and_settle(ctx, decision, claim))
        return Submitted(row.id, True, decision)
    raise RuntimeError(f"could not record action {cmd.action_id}")


async def _admit(ctx: Ctx, cmd: SendSms, claim: str) -> tuple[OutboundMessage, list[Event] | _Go]:
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        rules = await cache.rules(ctx, session, cmd.tenant_id)
        row = _new_row(cmd, rules, claim, now, link_base(ctx), session)
        with session.no_autoflush:  # one INSERT at commit, with the checks' verdict in it
            decision = await _checks(ctx, session, row, rules, now)
    return row, decision


async def process(ctx: Ctx, message_id: str, claim: str) -> list[Event]:
    """Checks and, when they pass, the carrier call, for a row in `accepted` held under `claim`."""
    decision = await _decide(ctx, message_id, claim)
    if not isinstance(decision, _Go):
        return decision
    return await _call_and_settle(ctx, decision, claim)


async def _decide(ctx: Ctx, message_id: str, claim: str) -> list[Event] | _Go:
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        row = await store.locked_message(session, message_id)
        if row is None or row.status != "accepted" or row.claim != claim:
            return []  # someone else holds it now
        rules = await cache.rules(ctx, session, row.tenant_id)
        with session.no_autoflush:
            return await _checks(ctx, session, row, rules, now)


async def _checks(ctx: Ctx, session, row: OutboundMessage, rules: policy.SendingRules,
                  now: datetime) -> list[Event] | _Go:
    """Consent, quiet hours and caps (`policy`), the number and its rate, its credentials; the row
    moves to `suppressed`, `failed`, `deferred` or `sending` in the caller's transaction."""
    opted_out = None
    if row.kind != "compliance":
        opted_out = await store.opted_out(session, row.tenant_id, row.phone, row.kind, row.program_id)
    counts = (0, 0)
    if row.kind == "marketing" and rules.frequency_caps.active:
        counts = await store.marketing_counts(session, row.tenant_id, row.phone, *caps.since(now))
    verdict = policy.precheck(row.kind, row.phone, now, rules, opted_out, *counts)
    if verdict.action == "suppress":
        _set(row, session, now, "suppressed", verdict.rule, verdict.reason)
        return _done(row, now)
    if verdict.action == "defer":
        return _defer(row, session, now, verdict.until, verdict.rule, verdict.reason)  # type: ignore[arg-type]
    number = await cache.number(ctx, session, row.tenant_id, row.from_number)
    if number is None:
        why = (f"{row.from_number} is not a registered sending number" if row.from_number
               else "the tenant has no registered sending number")
        _set(row, session, now, "failed", "number", why)
        return _done(row, now)
    row.from_number, row.carrier = number.number, number.carrier
    wait = await _rate_slot(ctx, session, row, number, now)
    if wait is not None:
        return _defer(row, session, now, wait[0], "rate_limit", wait[1], rate_slot=wait[0])
    creds, problem = await _credentials(ctx, session, row.tenant_id, number.carrier)
    if problem:
        _set(row, session, now, "failed", "credentials", problem)
        return _done(row, now)
    row.status, row.lease_until, row.updated_at = "sending", now + LEASE, now
    row.attempts += 1
    store.add_history(session, row.id, now, "sending", None, f"via {number.carrier} from {number.number}")
    return _Go(row, number, creds)


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


async def _credentials(ctx: Ctx, session, tenant_id: str, carrier: str) -> tuple[dict | None, str | None]:
    if carrier == SIMULATOR:
        return None, None
    if carrier not in CLIENTS:
        return None, f"no client for carrier {carrier!r}"
    try:
        creds = await cache.credentials(ctx, session, tenant_id, carrier)
    except ValueError as exc:
        return None, str(exc)
    if creds is None:
        return None, f"the tenant has no {carrier} credentials (PUT /v1/tenants/{{id}}/credentials/{carrier})"
    return creds, None


def _defer(row: OutboundMessage, session, now: datetime, until: datetime, rule: str, reason: str,
           rate_slot: datetime | None = None) -> list[Event]:
    row.next_attempt_at, row.rate_slot_at = until, rate_slot
    row.claim = row.lease_until = None
    _set(row, session, now, "deferred", rule, reason)
    _log(row)
    return [fact(row, "deferred", now)]


def _done(row: OutboundMessage, now: datetime) -> list[Event]:
    row.claim = row.lease_until = row.next_attempt_at = None
    _log(row)
    return [fact(row, row.status, now)]


# --- call and settle -----------------------------------------------------------------------------

def _outgoing(ctx: Ctx, row: OutboundMessage, carrier: str) -> Outgoing:
    public = ctx.settings.public_base_url
    status_url = f"{public.rstrip('/')}/webhooks/{carrier}/{row.tenant_id}/status" if public else None
    return Outgoing(message_id=row.id, to=row.phone, from_=row.from_number or "", text=row.text or row.body,
                    unicode=row.encoding == "UCS-2", status_url=status_url)


async def _call(ctx: Ctx, go: _Go) -> Outcome:
    row = go.row
    if go.number.carrier == SIMULATOR:
        async with ctx.sessions() as session, session.begin():
            cid = await simulator.send(session, message_id=row.id, tenant_id=row.tenant_id,
                                       from_number=go.number.number, to=row.phone, body=row.text or row.body,
                                       segments=row.segments, now=ctx.clock())
        return Sent(cid)
    client = CLIENTS[go.number.carrier]
    t = tools(ctx)
    try:
        return await deliver(client, _outgoing(ctx, row, client.NAME), go.creds or {}, http=t.http,
                             base_url=getattr(ctx.settings, f"{client.NAME}_base_url"), sleep=t.sleep,
                             policy=t.policy)
    except MissingCredentials as exc:
        return Failed(str(exc))


async def _call_and_settle(ctx: Ctx, go: _Go, claim: str) -> list[Event]:
    outcome = await _call(ctx, go)
    return await settle(ctx, go.row.id, claim, outcome)


async def settle(ctx: Ctx, message_id: str, claim: str, outcome: Outcome) -> list[Event]:
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        row = await store.locked_message(session, message_id)
        if row is None or row.status != "sending" or row.claim != claim:
            return []
        if isinstance(outcome, Sent):
            return await _sent(session, row, outcome, now)
        if isinstance(outcome, Retry):
            return _carrier_busy(row, session, now, outcome)
        row.error_code = outcome.code
        rule = ("carrier_opt_out" if outcome.opted_out else "carrier_unknown" if outcome.uncertain
                else "carrier")
        _set(row, session, now, "failed", rule, outcome.reason)
        events: list[Event] = _done(row, now)
        if outcome.opted_out:
            await store.mark_carrier_opt_out(session, row.tenant_id, row.phone, row.carrier or "",
                                             outcome.code, now)
            events.append(consent_fact(row, row.carrier or "", outcome.code, now))
    return events


async def _sent(session, row: OutboundMessage, outcome: Sent, now: datetime) -> list[Event]:
    row.carrier_message_id, row.sent_at = outcome.carrier_message_id, now
    row.delivery_status = outcome.status if outcome.status in receipts.RANK else "queued"
    _set(row, session, now, "sent", None, None)
    events = _done(row, now)
    pending = await store.pop_receipts(session, row.tenant_id, row.carrier or "", outcome.carrier_message_id)
    for receipt in pending:  # a receipt that overtook this send
        events += await delivery_status.apply_receipt(session, row, receipt.status, receipt.error_code,
                                                      receipt.opted_out, receipt.at)
    return events


def _carrier_busy(row: OutboundMessage, session, now: datetime, outcome: Retry) -> list[Event]:
    if row.attempts >= MAX_CARRIER_ROUNDS:
        _set(row, session, now, "failed", "carrier",
             f"gave up after {row.attempts} rounds: {outcome.reason}")
        return _done(row, now)
    wait = max(outcome.after or 0.0, min(300.0, 5.0 * 2 ** (row.attempts - 1)))
    until = now + timedelta(seconds=wait)
    return _defer(row, session, now, until, "carrier_retry",
                  f"{outcome.reason}; round {row.attempts} of {MAX_CARRIER_ROUNDS}, "
                  f"again at {until:%H:%M:%S} UTC")


# --- picking up where someone left off -----------------------------------------------------------

async def resume(ctx: Ctx, row: OutboundMessage, claim: str) -> list[Event]:
    """A row found already recorded (a redelivery, a retried API call, an expired lease)."""
    now = ctx.clock()
    if row.status in FINAL:
        return [fact(row, row.status, row.updated_at or now)]  # the same fact, published again
    if row.status == "deferred":
        return []  # the deferred loop sends it at its time
    # `accepted` may be picked up by the same claimant at once (the move to `sending` is guarded);
    # `sending` only once its lease ran out: the call may still be in flight elsewhere.
    mine = row.claim if row.status == "accepted" else None
    async with ctx.sessions() as session, session.begin():
        taken = await store.take_over(session, row.id, row.status, claim, now, now + LEASE, mine)
    if not taken:
        return []  # someone holds it and their lease runs
    if row.status == "accepted":
        return await process(ctx, row.id, claim)
    return await recover_sending(ctx, row.id, claim)


async def recover_sending(ctx: Ctx, message_id: str, claim: str) -> list[Event]:
    """The carrier call of a row left in `sending` was interrupted. Repeat it where the carrier
    dedups (idempotency key, the simulator's message id); else fail it: it may have gone out."""
    async with ctx.sessions() as session:
        row = await session.get(OutboundMessage, message_id)
        if row is None or row.status != "sending" or row.claim != claim:
            return []
        number = await cache.number(ctx, session, row.tenant_id, row.from_number)
        if number is not None and number.carrier in DEDUPED:
            creds, problem = await _credentials(ctx, session, row.tenant_id, number.carrier)
        else:
            creds, problem = None, "not repeatable"
    if number is None or problem:
        outcome: Outcome = Failed("interrupted during the carrier call; the outcome is unknown and the "
                                  "call is not repeated, to never send twice", uncertain=True)
        return await settle(ctx, message_id, claim, outcome)
    log.info("send_repeated_after_interruption", tenant=row.tenant_id, message_id=row.id,
             carrier=number.carrier)
    return await _call_and_settle(ctx, _Go(row, number, creds), claim)
