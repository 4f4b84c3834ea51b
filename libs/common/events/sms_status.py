"""sms.status: a carrier's delivery receipt for a message Parley sent.

Producer: ingress. Consumers: sender, segmentation. Key: "<tenant_id>:<phone>".
"""

from __future__ import annotations

from typing import Literal

from libs.common.events.base import Event

TOPIC = "sms.status"

DeliveryStatus = Literal["queued", "sent", "delivered", "undelivered", "failed"]


class StatusUpdate(Event):
    TOPIC = TOPIC

    carrier: str
    carrier_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
