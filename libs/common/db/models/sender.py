"""Owner: sender. Sending numbers, every outbound message, and the simulated carrier's log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.base import Base, UtcDateTime


class SendingNumber(Base):
    __tablename__ = "sending_number"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32))
    number_type: Mapped[str] = mapped_column(String(16))  # long_code | toll_free | short_code
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboundMessage(Base):
    """One row per `sms.outbound` action; the unique action_id is what makes sending exactly-once."""

    __tablename__ = "outbound_message"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    action_id: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    from_number: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    carrier: Mapped[str | None] = mapped_column(String(32))
    carrier_message_id: Mapped[str | None] = mapped_column(String(200))
    segments: Mapped[int] = mapped_column(Integer, default=0)
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_outbound_message_tenant_phone", "tenant_id", "phone"),)


class SimulatedMessage(Base):
    """What the simulated carrier delivered to a phone: the embedded mode's handset."""

    __tablename__ = "simulated_message"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    from_number: Mapped[str] = mapped_column(String(20))
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    seq: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_simulated_message_tenant_to", "tenant_id", "to_number", "seq"),)


class Link(Base):
    """A tracked short link (`/l/{code}`): created by the sender per subscriber and message,
    read by ingress to redirect and publish `link.clicked`. Codes are unguessable."""

    __tablename__ = "link"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(32))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    tag: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_link_tenant_phone", "tenant_id", "phone"),)
