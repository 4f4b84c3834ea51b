"""Sender consumers: `sms.outbound` (send each action once) and `sms.status` (delivery receipts).

Thin shells over `sending.py`: an action is recorded under its unique action_id, then checked and
sent; a redelivered action finds its row and resumes it (or republishes its final fact) instead of
sending again.
"""

from __future__ import annotations

import structlog

from libs.common.events import Event
from libs.common.events.sms_outbound import SendSms
from libs.common.events.sms_status import StatusUpdate
from libs.common.service import Ctx
from services.sender import delivery_status, receipts, sending, store

log = structlog.get_logger("parley.sender")


async def handle_outbound(cmd: SendSms, ctx: Ctx) -> list[Event]:
    return (await sending.submit(ctx, cmd, sending.bus_claim(cmd.action_id))).events


async def handle_status(event: StatusUpdate, ctx: Ctx) -> list[Event]:
    """Apply a receipt to its message (found by carrier and carrier message id); one that overtook
    its send waits in `sender_pending_receipt` until the send is recorded."""
    opted_out = receipts.says_opted_out(event.carrier, event.status, event.error_code,
                                        bool(getattr(event, "recipient_opted_out", False)))
    at = event.occurred_at
    async with ctx.sessions() as session, session.begin():
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
