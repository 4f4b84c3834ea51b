"""sms.outbound: a command to send one SMS.

Producer: router (replies, flows), segmentation (broadcast messages). Consumer: sender.
Key: "<tenant_id>:<phone>". `action_id` is the idempotency key: the sender sends an action once
however often the bus redelivers it. `kind` decides which send-time checks apply: only
`marketing` is held by quiet hours and frequency caps; `compliance` (opt-out confirmations, HELP)
is the one kind an opted-out number may still receive. `experiment_id` is set on the prompt an
A/B test chose a variant for (and on nothing else the conversation sends): that message is one
send of the experiment's `variant`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from libs.common.events.base import Event, new_id

TOPIC = "sms.outbound"

MessageKind = Literal["reply", "marketing", "transactional", "compliance"]


class SendSms(Event):
    TOPIC = TOPIC

    action_id: str = Field(default_factory=new_id)
    from_number: str | None = Field(None, description="Sending number; None = tenant default.")
    body: str = Field(min_length=1, max_length=1600)
    kind: MessageKind = "reply"
    in_reply_to: str | None = Field(None, description="carrier_message_id of the inbound text.")
    program_id: str | None = Field(None, description="Program whose consent governs it; None = default.")
    campaign_id: str | None = None
    flow_id: str | None = None
    step: str | None = None
    variant: str | None = None
    experiment_id: str | None = Field(None, description="Set on an experiment's prompt: one send "
                                                        "of `variant`.")
