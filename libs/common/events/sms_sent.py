"""sms.sent: what the sender did with one `sms.outbound` action.

Producer: sender. Consumers: segmentation (metrics, scoring). Key: "<tenant_id>:<phone>".
"""

from __future__ import annotations

from typing import Literal

from libs.common.events.base import Event

TOPIC = "sms.sent"

SendOutcome = Literal["sent", "suppressed", "deferred", "failed"]


class SmsSent(Event):
    TOPIC = TOPIC

    action_id: str
    message_id: str
    from_number: str | None = None
    carrier: str | None = None
    carrier_message_id: str | None = None
    outcome: SendOutcome
    reason: str | None = None
    segments: int = 0
    kind: str = "reply"
    campaign_id: str | None = None
    flow_id: str | None = None
    step: str | None = None
    variant: str | None = None
