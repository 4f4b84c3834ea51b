"""Sender API models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.inputs import Input
from services.sender.carriers import CARRIERS

NumberType = Literal["long_code", "toll_free", "short_code"]
Carrier = Literal["twilio", "telnyx", "vonage", "plivo", "bandwidth", "simulator"]
assert set(Carrier.__args__) == set(CARRIERS)  # type: ignore[attr-defined]


class NumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=3, max_length=20)
    carrier: Carrier
    number_type: NumberType = "long_code"
    is_default: bool = False
    rate_per_s: float | None = Field(
        None, ge=0, le=10_000, description="Segments per second for this number; default: its type's rate.")


class NumberOut(BaseModel):
    number: str
    carrier: str
    number_type: str
    is_default: bool
    rate_per_s: float | None = None
    created_at: datetime


class MessageIn(Input):
    """A one-off message. Lengths are checked by the route so that the 422 says what is wrong."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: str = Field(max_length=32)
    body: str = Field(max_length=20_000)
    from_: str | None = Field(None, alias="from", max_length=32)
    kind: Literal["marketing", "transactional"] = Field(
        "marketing", description="marketing: quiet hours and caps apply; transactional: sent at any hour.")
    campaign_id: str | None = Field(None, max_length=64)


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=20_000)


class Replacement(BaseModel):
    char: str
    with_: str = Field(alias="with")
    count: int

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class PreviewOut(BaseModel):
    """What a message would cost: as sent (links at their length, look-alikes replaced)."""

    body: str
    characters: int
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int = Field(description="Septets (GSM-7) or UTF-16 code units (UCS-2).")
    per_segment: int = Field(description="What one segment holds at this length: 160/153 or 70/67.")
    replaced: list[Replacement] = Field(description="Look-alikes replaced to stay in GSM-7.")
    ucs2_characters: list[str] = Field(description="The characters that need UCS-2.")
    max_characters: int = Field(description="The longest body that can be sent.")
    too_long: bool


class HistoryOut(BaseModel):
    at: datetime
    status: str
    rule: str | None
    reason: str | None


class LinkOut(BaseModel):
    code: str
    url: str
    tag: str | None
    expires_at: datetime | None


class MessageOut(BaseModel):
    id: str
    action_id: str
    phone: str
    from_number: str | None
    body: str
    text: str | None
    kind: str
    status: str
    rule: str | None
    reason: str | None
    carrier: str | None
    carrier_message_id: str | None
    segments: int
    encoding: str | None
    attempts: int
    next_attempt_at: datetime | None
    delivery_status: str | None
    error_code: str | None
    campaign_id: str | None
    flow_id: str | None
    step: str | None
    variant: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    history: list[HistoryOut] = []
    links: list[LinkOut] = []


class OutboxMessage(BaseModel):
    id: str
    seq: int
    from_: str = Field(alias="from")
    to: str
    body: str
    segments: int
    sent_at: datetime

    model_config = ConfigDict(populate_by_name=True)


class HandsetIn(BaseModel):
    """What the simulated carrier reports for a phone after each send."""

    model_config = ConfigDict(extra="forbid")

    receipt: Literal["delivered", "undelivered", "failed", "none"] = Field(
        "delivered", description="The receipt posted after each send; none: no receipt at all.")
    error_code: str | None = Field(None, min_length=1, max_length=16,
                                   description="Carried by undelivered and failed receipts.")

    @model_validator(mode="after")
    def _code_only_on_failures(self) -> HandsetIn:
        if self.error_code and self.receipt not in ("undelivered", "failed"):
            raise ValueError("error_code: only undelivered and failed receipts carry an error code")
        return self


class HandsetOut(BaseModel):
    phone: str
    receipt: str
    error_code: str | None
