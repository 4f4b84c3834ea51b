"""Owner: segmentation. Subscriber profiles built from every event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.base import Base, UtcDateTime


class Subscriber(Base):
    __tablename__ = "subscriber"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    consent: Mapped[str] = mapped_column(String(16), default="unknown")
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_interaction_at: Mapped[datetime] = mapped_column(UtcDateTime())
    replies: Mapped[int] = mapped_column(Integer, default=0)
    messages_received: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedEvent(Base):
    """Event ids segmentation has applied, so a redelivered event changes nothing."""

    __tablename__ = "segmentation_processed_event"

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime())
