"""Segmentation API models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SubscriberOut(BaseModel):
    phone: str
    consent: str
    first_seen_at: datetime
    last_interaction_at: datetime
    replies: int
    messages_received: int
    clicks: int


class SubscriberPage(BaseModel):
    total: int
    items: list[SubscriberOut]
    next_after: str | None
