"""sms.sent: what the sender did with one `sms.outbound` action, and what became of it.

Producer: sender. Consumers: segmentation (metrics, scoring). Key: "<tenant_id>:<phone>".

`outcome` is the send decision (`sent`, `suppressed`, `deferred`, `failed`) and, later, the
delivery receipt's verdict for a sent message (`delivered`, `undelivered`, `failed`), published
once per message. `rule` names the check that decided (consent, quiet_hours, frequency_cap,
rate_limit, carrier…). A redelivered action republishes the same fact with the same `event_id`.
`experiment_id` is copied from the action: set only on an experiment's prompt (one send of its
variant; later messages of the conversation carry the `variant` but no `experiment_id`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from libs.common.events.base import Event

TOPIC = "sms.sent"

SendOutcome = Literal["sent", "suppressed", "deferred", "failed", "delivered", "undelivered"]


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
    experiment_id: str | None = Field(None, description="Set on an experiment's prompt: one send "
                                                        "of `variant`.")
    rule: str | None = Field(None, description="The check that decided: consent, quiet_hours, "
                                               "frequency_cap, rate_limit, carrier, receipt…")
    deferred_until: datetime | None = Field(None, description="When a deferred message is tried again.")
    error_code: str | None = Field(None, description="The carrier's error code, if any.")
