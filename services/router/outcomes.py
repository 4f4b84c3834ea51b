"""What became of the messages a router decision asked for, in the sender's words.

The router decides; the sender applies consent, do-not-contact, quiet hours and caps right before
sending, so only the sender's `outbound_message` row (keyed by the action id, read here, never
written) says whether a message was sent, deferred (until when), suppressed (by which rule, why)
or failed. A message the sender has not decided on yet (no row, or accepted / sending) is pending.
Pure: the rows are read by the caller.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from libs.common.db.models.sender import OutboundMessage
from libs.common.events.sms_outbound import SendSms

Status = Literal["sent", "deferred", "suppressed", "failed", "pending"]
SETTLED: frozenset[str] = frozenset({"sent", "deferred", "suppressed", "failed"})
PREVIEW = 80  # characters of the body shown back


@dataclass(frozen=True)
class Verdict:
    action_id: str
    message_id: str | None  # the sender's id (GET /v1/messages/{id}) once it recorded the action
    status: Status
    until: datetime | None  # deferred: when the sender tries again
    rule: str | None  # the sender's rule that held or stopped it (consent, quiet_hours, …)
    reason: str | None
    body: str

    @property
    def settled(self) -> bool:
        return self.status != "pending"

    def as_dict(self) -> dict:
        return asdict(self)


def verdict(cmd: SendSms, row: OutboundMessage | None) -> Verdict:
    status: Status = row.status if row is not None and row.status in SETTLED else "pending"  # type: ignore[assignment]
    text = (row.text if row is not None and row.text else None) or cmd.body
    preview = text if len(text) <= PREVIEW else text[:PREVIEW - 1] + "…"
    message_id = row.id if row is not None else None
    if status == "pending" or status == "sent":
        return Verdict(cmd.action_id, message_id, status, None, None, None, preview)
    return Verdict(cmd.action_id, message_id, status,
                   row.next_attempt_at if status == "deferred" else None, row.rule, row.reason, preview)
