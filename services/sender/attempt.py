"""One carrier attempt: the call, made with no transaction open (SQLite has one connection;
PostgreSQL locks), and the recording of its outcome (`settle`) — `sent`, `failed`, `deferred`
(carrier busy), or, when the carrier took the request without answering, left in `sending` to be
looked up (`recovery.py`). An outcome is recorded only under the claim and fencing token
(`claim_epoch`) the attempt was made with; a worker taken over meanwhile is only logged.

Also the row-state helpers the pipeline shares (`set_status`, `defer`, `done`, `skip`) and the
lease every worker holds a row under (`lease`, and `look_at` for a lookup after it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog

from libs.common.db.models.sender import OutboundMessage
from libs.common.events import Event
from libs.common.observability import MESSAGES_SENT
from libs.common.phone import mask
from libs.common.service import Ctx
from services.sender import cache, delivery_status, receipts, store
from services.sender.carriers import CLIENTS, SIMULATOR
from services.sender.carriers.base import Failed, MissingCredentials, Outcome, Outgoing, Retry, Sent, Unknown
from services.sender.carriers.delivery import (
    DEFAULT_POLICY,
    RetryPolicy,
    Sleep,
    attempt_window,
    deliver,
    new_http_client,
)
from services.sender.carriers.simulator import client as simulator
from services.sender.carriers.simulator import receipts as simulated_receipts
from services.sender.facts import consent_fact, fact

log = structlog.get_logger("parley.sender")

LEASE_MARGIN_S = 5.0  # the transactions around a call, and clocks that differ between replicas
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


def lease(ctx: Ctx) -> timedelta:
    """How long a worker holds a row before another may take it: the longest a carrier attempt can
    run (`attempt_window`: PARLEY_CARRIER_TIMEOUT_S for each of the in-process retry policy's tries,
    plus the longest waits between them; `deliver` is cut off there) and `LEASE_MARGIN_S`. With the
    defaults (10 s, 3 tries, waits up to 2 s) that is 39 s. Once it has run out, nothing the attempt
    sent can still be on its way, so its row may be recovered."""
    window = attempt_window(ctx.settings.carrier_timeout_s, tools(ctx).policy)
    return timedelta(seconds=window + LEASE_MARGIN_S)


def _log(row: OutboundMessage) -> None:
    MESSAGES_SENT.labels(carrier=row.carrier or "none", outcome=row.status).inc()
    log.info("send_" + row.status, tenant=row.tenant_id, phone=mask(row.phone), kind=row.kind,
             rule=row.rule, reason=row.reason, message_id=row.id)


def set_status(row: OutboundMessage, session, now: datetime, status: str, rule: str | None,
               reason: str | None) -> None:
    row.status, row.rule, row.reason, row.updated_at = status, rule, reason, now
    store.add_history(session, row.id, now, status, rule, reason)


def skip(why: str, message_id: str, row: OutboundMessage | None, claim: str, epoch: int | None,
         **more: object) -> None:
    """One line for every path that returns without sending: which row, its state and holder, why."""
    log.info("send_skipped", why=why, message_id=message_id, status=row.status if row else None,
             holder=row.claim if row else None, holder_epoch=row.claim_epoch if row else None,
             lease_until=row.lease_until.isoformat() if row and row.lease_until else None,
             claim=claim, epoch=epoch, **more)


def held(row: OutboundMessage | None, status: str, claim: str, epoch: int) -> bool:
    return row is not None and row.status == status and row.claim == claim and row.claim_epoch == epoch


async def holding(session, message_id: str, status: str, claim: str, epoch: int, why: str,
                  **more: object) -> OutboundMessage | None:
    """The row, locked for this transaction, while (`claim`, `epoch`) still hold it in `status`;
    else None, and the skip logged with `why`."""
    row = await store.locked_message(session, message_id)
    if held(row, status, claim, epoch):
        return row
    skip(why, message_id, row, claim, epoch, **more)
    return None


@dataclass(frozen=True)
class Go:
    row: OutboundMessage
    number: cache.Number
    creds: dict[str, str] | None
    epoch: int  # the fencing token its outcome is recorded under


async def credentials(ctx: Ctx, session, tenant_id: str, carrier: str) -> tuple[dict | None, str | None]:
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


def defer(row: OutboundMessage, session, now: datetime, until: datetime, rule: str, reason: str,
          rate_slot: datetime | None = None) -> list[Event]:
    row.next_attempt_at, row.rate_slot_at = until, rate_slot
    row.claim = row.lease_until = None
    set_status(row, session, now, "deferred", rule, reason)
    _log(row)
    return [fact(row, "deferred", now)]


def done(row: OutboundMessage, now: datetime) -> list[Event]:
    row.claim = row.lease_until = row.next_attempt_at = None
    _log(row)
    return [fact(row, row.status, now)]


# --- call and settle -----------------------------------------------------------------------------

def _outgoing(ctx: Ctx, row: OutboundMessage, carrier: str) -> Outgoing:
    public = ctx.settings.public_base_url
    status_url = f"{public.rstrip('/')}/webhooks/{carrier}/{row.tenant_id}/status" if public else None
    return Outgoing(message_id=row.id, to=row.phone, from_=row.from_number or "", text=row.text or row.body,
                    unicode=row.encoding == "UCS-2", status_url=status_url)


async def _call(ctx: Ctx, go: Go) -> Outcome:
    row = go.row
    if go.number.carrier == SIMULATOR:
        async with ctx.sessions() as session, session.begin():
            cid = await simulator.send(session, message_id=row.id, tenant_id=row.tenant_id,
                                       from_number=go.number.number, to=row.phone, body=row.text or row.body,
                                       segments=row.segments, now=ctx.clock())
        simulated_receipts.expect(ctx, simulated_receipts.Receipt(row.tenant_id, row.phone, cid))
        return Sent(cid)
    client = CLIENTS[go.number.carrier]
    t = tools(ctx)
    try:
        return await deliver(client, _outgoing(ctx, row, client.NAME), go.creds or {}, http=t.http,
                             base_url=getattr(ctx.settings, f"{client.NAME}_base_url"), sleep=t.sleep,
                             policy=t.policy,
                             deadline_s=attempt_window(ctx.settings.carrier_timeout_s, t.policy))
    except MissingCredentials as exc:
        return Failed(str(exc))


async def call_and_settle(ctx: Ctx, go: Go, claim: str) -> list[Event]:
    outcome = await _call(ctx, go)
    return await settle(ctx, go.row.id, claim, go.epoch, outcome)


async def settle(ctx: Ctx, message_id: str, claim: str, epoch: int, outcome: Outcome | Unknown,
                 note: str | None = None) -> list[Event]:
    """Record the outcome of the attempt made under (`claim`, `epoch`) — unless the row was taken
    over since, in which case the successor's word stands and this one is only logged. `Unknown` is
    a recovery's final verdict; a `Failed(uncertain)` (no answer) is looked up first."""
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        row = await holding(session, message_id, "sending", claim, epoch,
                            "outcome not recorded: the row was taken over", outcome=repr(outcome))
        if row is None:
            return []
        if note:
            store.add_history(session, row.id, now, "reconciled", "reconcile", note)
        if isinstance(outcome, Sent):
            return await _sent(session, row, outcome, now)
        if isinstance(outcome, Retry):
            return _carrier_busy(row, session, now, outcome)
        if isinstance(outcome, Unknown):
            set_status(row, session, now, "failed", "carrier_unknown",
                       f"the outcome at {row.carrier} is unknown: {outcome.reason}; not sent again, to "
                       "never send twice (check the carrier's console)")
            return done(row, now)
        if outcome.uncertain and row.carrier in CLIENTS:
            return look_up_later(ctx, row, session, now, outcome.reason, claim, epoch)
        row.error_code = outcome.code
        rule = ("carrier_opt_out" if outcome.opted_out else "carrier_unknown" if outcome.uncertain
                else "carrier")
        set_status(row, session, now, "failed", rule, outcome.reason)
        events: list[Event] = done(row, now)
        if outcome.opted_out:
            await store.mark_carrier_opt_out(session, row.tenant_id, row.phone, row.carrier or "",
                                             outcome.code, now)
            events.append(consent_fact(row, row.carrier or "", outcome.code, now))
    return events


def started(row: OutboundMessage) -> datetime:
    return row.attempt_started_at or row.updated_at or row.created_at


def look_at(ctx: Ctx, row: OutboundMessage) -> datetime:
    """When the carrier's list can first be trusted about the row's attempt: once its lease ran out
    (nothing it sent is still on its way) and the carrier had `LOOKUP_LAG_S` to list what it took."""
    return started(row) + lease(ctx) + timedelta(seconds=CLIENTS[row.carrier or ""].LOOKUP_LAG_S)


def look_up_later(ctx: Ctx, row: OutboundMessage, session, now: datetime, why: str, claim: str,
                  epoch: int, at: datetime | None = None) -> list[Event]:
    """Keep the row in `sending` until its carrier's list can be trusted (or asked again); the
    deferred loop takes it then (`recovery.recover_sending`)."""
    at = max(at or look_at(ctx, row), now)
    row.lease_until, row.updated_at = at, now
    store.add_history(session, row.id, now, "sending", "carrier_unknown",
                      f"{why}; looking it up at {row.carrier} at {at:%H:%M:%S} UTC")
    skip("outcome unknown: looked up later", row.id, row, claim, epoch, look_at=at.isoformat())
    return []


async def _sent(session, row: OutboundMessage, outcome: Sent, now: datetime) -> list[Event]:
    row.carrier_message_id, row.sent_at = outcome.carrier_message_id, now
    row.delivery_status = outcome.status if outcome.status in receipts.RANK else "queued"
    set_status(row, session, now, "sent", None, None)
    events = done(row, now)
    pending = await store.pop_receipts(session, row.tenant_id, row.carrier or "", outcome.carrier_message_id)
    for receipt in pending:  # a receipt that overtook this send
        events += await delivery_status.apply_receipt(session, row, receipt.status, receipt.error_code,
                                                      receipt.opted_out, receipt.at)
    return events


def _carrier_busy(row: OutboundMessage, session, now: datetime, outcome: Retry) -> list[Event]:
    if row.attempts >= MAX_CARRIER_ROUNDS:
        set_status(row, session, now, "failed", "carrier",
                   f"gave up after {row.attempts} rounds: {outcome.reason}")
        return done(row, now)
    wait = max(outcome.after or 0.0, min(300.0, 5.0 * 2 ** (row.attempts - 1)))
    until = now + timedelta(seconds=wait)
    return defer(row, session, now, until, "carrier_retry",
                 f"{outcome.reason}; round {row.attempts} of {MAX_CARRIER_ROUNDS}, "
                 f"again at {until:%H:%M:%S} UTC")
