"""Sender consumers: `sms.outbound` (send each action once) and `sms.status` (delivery receipts).

Thin shells over `sending.py`: an action is recorded under its unique action_id, then checked and
sent; a redelivered action finds its row and resumes it (or republishes its final fact) instead of
sending again.
"""

from __future__ import annotations

import asyncio

import structlog

from libs.common.events import Event
from libs.common.events.sms_outbound import SendSms
from libs.common.events.sms_status import StatusUpdate
from libs.common.service import Ctx
from services.sender import delivery_status, receipts, sending, store

log = structlog.get_logger("parley.sender")


# Carrier calls a run of actions makes at once: a carrier's latency is spent waiting, so a run
# overlaps it across subscribers; bounded below the database pool each send also needs.
CONCURRENT_SENDS = 8


async def handle_outbound(cmd: SendSms, ctx: Ctx) -> list[Event]:
    return (await sending.submit(ctx, cmd, sending.bus_claim(cmd.action_id))).events


async def handle_outbound_batch(cmds: list[SendSms], ctx: Ctx) -> list[Event]:
    """A run of one partition's actions: each subscriber's in order, one after the other (a reply
    never overtakes the prompt before it), different subscribers' side by side, at most
    `CONCURRENT_SENDS` at a time. Each action is sent exactly as `handle_outbound` sends it (its
    own claim and transactions), so if one fails and the bus replays the run one by one, the
    actions already sent are found by their action id and not sent again."""
    lanes: dict[tuple[str, str], list[SendSms]] = {}
    for cmd in cmds:
        lanes.setdefault((cmd.tenant_id, cmd.phone), []).append(cmd)
    slots = asyncio.Semaphore(CONCURRENT_SENDS)

    async def lane(queue: list[SendSms]) -> list[Event]:
        out: list[Event] = []
        for cmd in queue:
            async with slots:
                out.extend(await handle_outbound(cmd, ctx))
        return out

    results = await asyncio.gather(*(lane(queue) for queue in lanes.values()),
                                   return_exceptions=True)  # every lane settled before a raise
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [event for events in results for event in events]


async def handle_status(event: StatusUpdate, ctx: Ctx) -> list[Event]:
    """Apply a receipt to its message (found by carrier and carrier message id); one that overtook
    its send waits in `sender_pending_receipt` until the send is recorded."""
    async with ctx.sessions() as session, session.begin():
        return await _apply_status(session, event)


async def handle_statuses(events: list[StatusUpdate], ctx: Ctx) -> list[Event]:
    """A run of receipts in one transaction, in order (a message's receipts share its partition)."""
    produced: list[Event] = []
    async with ctx.sessions() as session, session.begin():
        for event in events:
            produced.extend(await _apply_status(session, event))
    return produced


async def _apply_status(session, event: StatusUpdate) -> list[Event]:
    opted_out = receipts.says_opted_out(event.carrier, event.status, event.error_code,
                                        bool(getattr(event, "recipient_opted_out", False)))
    at = event.occurred_at
    row = await store.message_by_carrier_id(session, event.tenant_id, event.carrier,
                                            event.carrier_message_id)
    if row is None:
        key = (event.tenant_id, event.carrier, event.carrier_message_id)
        kept = await store.pending_receipt(session, *key)
        status = event.status
        if kept is not None:
            status = receipts.advance(kept.status, event.status) or kept.status
        await store.keep_receipt(session, *key, status, event.error_code,
                                 opted_out or bool(kept and kept.opted_out), at)
        log.info("receipt_before_send", tenant=event.tenant_id, carrier=event.carrier,
                 status=event.status)
        return []
    return await delivery_status.apply_receipt(session, row, event.status, event.error_code,
                                               opted_out, at)
