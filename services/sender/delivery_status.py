"""Applying a delivery receipt to its message (the decision is `receipts.advance`): the delivery
status, the history line, the `sms.sent` verdict once final, and a carrier's opt-out report, which
is kept as the sender's own marker and told to the router as a consent event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.sender import OutboundMessage
from libs.common.events import Event
from services.sender import receipts, store
from services.sender.facts import consent_fact, fact


async def apply_receipt(session: AsyncSession, row: OutboundMessage, status: str, code: str | None,
                        opted_out: bool, at: datetime) -> list[Event]:
    """Move the message's delivery status forward (never back); facts for what changed."""
    new = receipts.advance(row.delivery_status, status)
    events: list[Event] = []
    if new is None:
        store.add_history(session, row.id, at, f"receipt:{status}", "receipt",
                          f"ignored: already {row.delivery_status}")
    else:
        row.delivery_status, row.updated_at = new, at
        row.error_code = code or row.error_code
        if new == "delivered":
            row.delivered_at = at
        store.add_history(session, row.id, at, f"receipt:{new}", "receipt", f"error {code}" if code else None)
        if new in receipts.FINAL:
            events.append(fact(row, new, at, rule="receipt"))
    if opted_out and not await store.opted_out(session, row.tenant_id, row.phone, row.kind, row.program_id):
        await store.mark_carrier_opt_out(session, row.tenant_id, row.phone, row.carrier or "", code, at)
        events.append(consent_fact(row, row.carrier or "", code, at))
    return events
