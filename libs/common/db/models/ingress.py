"""Owner: ingress. What it has accepted, so a carrier's retry publishes nothing twice, and the parts
of concatenated messages it is still waiting to complete."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.base import Base, UtcDateTime


class InboundDedup(Base):
    """One row per carrier message (or receipt, or content hash for id-less carriers) ingress has
    claimed. `state`: `pending` while its event is being published (no transaction is held across
    the publish), `accepted` once the bus took it, `failed` when the publish failed (a retry takes
    it over at once). `received_at` is when the key was last claimed: a `pending` row older than
    the publish timeout plus a margin was left by a crash and is taken over by the next retry, with
    a compare-and-set on `claim_epoch` (bumped by every take-over), so two retries cannot both
    take it; ledger pruning removes every state past the retention."""

    __tablename__ = "inbound_dedup"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    carrier_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    state: Mapped[str] = mapped_column(String(16), default="accepted", server_default="accepted")
    claim_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class InboundPart(Base):
    """A part of a concatenated SMS whose carrier forwards parts one by one (Vonage). Parts wait
    here until all have arrived (or the wait gives up); the whole message is published once and
    its parts deleted, so the sender's 8- or 16-bit reference can be used again."""

    __tablename__ = "inbound_part"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    to_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    total: Mapped[int] = mapped_column(Integer)
    to_is_short_code: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    carrier_message_id: Mapped[str] = mapped_column(String(200))
    carrier_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
