"""Owner: ingress. What it has accepted, so a carrier's retry publishes nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.base import Base, UtcDateTime


class InboundDedup(Base):
    __tablename__ = "inbound_dedup"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    carrier_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
