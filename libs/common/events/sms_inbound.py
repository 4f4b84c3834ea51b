"""sms.inbound: a subscriber's message as ingress accepted it (verified, normalised, deduplicated).

Producer: ingress. Consumers: router, segmentation. Key: "<tenant_id>:<phone>".
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from libs.common.events.base import Event, utcnow

TOPIC = "sms.inbound"


class InboundSms(Event):
    TOPIC = TOPIC

    to: str = Field(description="Parley's number the subscriber texted (E.164 or short code).")
    body: str = Field(max_length=65536)
    carrier: str
    carrier_message_id: str
    media_urls: list[str] = Field(default_factory=list)
    received_at: datetime = Field(default_factory=utcnow)
    carrier_opt_out_hint: str | None = Field(
        None, description="The carrier's own opt-out flag (Twilio OptOutType…); never trusted alone."
    )
    normalised_body: str | None = Field(
        None, description="The body NFKC-normalised, quotes straightened, whitespace collapsed; "
                          "case kept. None from producers that predate it."
    )
    to_is_short_code: bool = Field(False, description="`to` is a short code, kept as received.")
    segments: int | None = Field(None, ge=1, description="SMS segments, when the carrier says.")
    carrier_received_at: datetime | None = Field(
        None, description="When the carrier says it received the message (its clock, not ours)."
    )
