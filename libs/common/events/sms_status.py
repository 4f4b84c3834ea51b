"""sms.status: a carrier's delivery receipt for a message Parley sent.

Producer: ingress. Consumers: sender, segmentation. Key: "<tenant_id>:<phone>".
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from libs.common.events.base import Event

TOPIC = "sms.status"

DeliveryStatus = Literal["queued", "sent", "delivered", "undelivered", "failed"]


class StatusUpdate(Event):
    TOPIC = TOPIC

    carrier: str
    carrier_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
    recipient_opted_out: bool = Field(
        False, description="The carrier refused the message because the recipient opted out "
                           "(Twilio 21610, Telnyx 40300, Vonage err-code 9, Plivo 200)."
    )
    error_detail: str | None = Field(None, description="The carrier's words for the error, if any.")
    carrier_occurred_at: datetime | None = Field(
        None, description="When the carrier says the status changed: receipts may arrive out of order."
    )
