"""Sender API models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.common.events.base import E164

NumberType = Literal["long_code", "toll_free", "short_code"]


class NumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=3, max_length=20)
    carrier: Literal["twilio", "telnyx", "vonage", "plivo", "bandwidth", "simulator"]
    number_type: NumberType = "long_code"
    is_default: bool = False


class NumberOut(BaseModel):
    number: str
    carrier: str
    number_type: str
    is_default: bool
    created_at: datetime


class MessageOut(BaseModel):
    id: str
    action_id: str
    phone: str
    from_number: str | None
    body: str
    kind: str
    status: str
    reason: str | None
    carrier: str | None
    carrier_message_id: str | None
    segments: int
    created_at: datetime
    sent_at: datetime | None


class OutboxMessage(BaseModel):
    id: str
    seq: int
    from_: str = Field(alias="from")
    to: str
    body: str
    segments: int
    sent_at: datetime

    model_config = ConfigDict(populate_by_name=True)


__all__ = ["E164", "MessageOut", "NumberIn", "NumberOut", "OutboxMessage"]
