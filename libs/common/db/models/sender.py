"""Owner: sender. Sending numbers, every outbound message and its history, per-tenant sending
settings, per-number rate buckets, carrier opt-outs, tracked links, and the simulated carrier's log
and handsets.

Others may read: ingress reads `link` to serve `/l/{code}`, and `sending_number` to see which
tenant owns the number a subscriber texted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.base import Base, UtcDateTime

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class SendingNumber(Base):
    """A tenant's sending number: its carrier (which client sends) and type (which rate applies).
    `rate_per_s` overrides the type's default rate for this one number. A number belongs to at
    most one tenant (`uq_sending_number_number`): no tenant sends from, or is routed the replies
    to, another tenant's number."""

    __tablename__ = "sending_number"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32))
    number_type: Mapped[str] = mapped_column(String(16))  # long_code | toll_free | short_code
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_per_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("number", name="uq_sending_number_number"),)


class OutboundMessage(Base):
    """One row per `sms.outbound` action (or API call); the unique action_id is what makes sending
    exactly-once.

    `status` is the sender's state machine: accepted → sending → sent | failed | suppressed, with
    deferred (until `next_attempt_at`) on the way. `delivery_status` is the carrier's receipts:
    queued → sent → delivered | undelivered | failed. `claim` and `lease_until` say who is working on
    the row (a consumer, the API, or the deferred loop); an expired lease may be taken over.
    `claim_epoch` is the fencing token: every take-over bumps it, and a worker's outcome is recorded
    only while the epoch it started with is still the row's. `attempt_started_at` is when the
    current carrier attempt began: the window a lookup at the carrier searches after a crash.
    `body` is what was asked for, `text` what went to the carrier (tracked links, GSM-7 look-alikes).
    `experiment_id` is the router's mark on an A/B-tested prompt, passed on to `sms.sent`.
    """

    __tablename__ = "outbound_message"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    action_id: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    from_number: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(String(32))
    carrier: Mapped[str | None] = mapped_column(String(32))
    carrier_message_id: Mapped[str | None] = mapped_column(String(200))
    segments: Mapped[int] = mapped_column(Integer, default=0)
    encoding: Mapped[str | None] = mapped_column(String(8))
    in_reply_to: Mapped[str | None] = mapped_column(String(200))
    program_id: Mapped[str | None] = mapped_column(String(64))  # consent is per program
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    experiment_id: Mapped[str | None] = mapped_column(String(64))  # set on an experiment's prompt
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rate_slot_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claim: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claim_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempt_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_outbound_message_tenant_phone", "tenant_id", "phone"),
        Index("ix_outbound_message_due", "status", "next_attempt_at"),
        Index("ix_outbound_message_carrier_id", "carrier", "carrier_message_id"),
    )


class MessageEvent(Base):
    """Append-only history of one outbound message: every state, check and receipt with its reason."""

    __tablename__ = "outbound_message_event"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(24))
    rule: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbound_message_event_message", "message_id", "id"),)


class SenderSettings(Base):
    """A tenant's sending rules (quiet hours, frequency caps, GSM-7 look-alikes), validated by
    `services/sender/policy.py`; no row means the defaults."""

    __tablename__ = "sender_settings"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RateBucket(Base):
    """One token bucket per sending number, shared by every sender replica: `tat` is the time the
    next message may go (the bucket's state in GCRA form), advanced under a row lock."""

    __tablename__ = "rate_bucket"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    tat: Mapped[datetime] = mapped_column(UtcDateTime())


class CarrierOptOut(Base):
    """A carrier refused a message because the recipient opted out (Twilio 21610 and kin). The
    sender suppresses later messages unless consent was granted again after `at`; the router owns
    consent and learns of it from the `consent_changed` event the sender publishes."""

    __tablename__ = "carrier_opt_out"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class PendingReceipt(Base):
    """A delivery receipt that arrived before the send it reports on was recorded; applied when it is."""

    __tablename__ = "sender_pending_receipt"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    carrier_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)  # ledger pruning


class SimulatedMessage(Base):
    """What the simulated carrier delivered to a phone: the embedded mode's handset.

    `seq` is the handset log's order, given by the database (never reused: AUTOINCREMENT on
    SQLite, a sequence on PostgreSQL); `id` is the sender's message id, stored once however often
    it is sent."""

    __tablename__ = "simulated_message"

    seq: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    from_number: Mapped[str] = mapped_column(String(20))
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_simulated_message_tenant_to", "tenant_id", "to_number", "seq"),
                      Index("ix_simulated_message_tenant_seq", "tenant_id", "seq"),
                      {"sqlite_autoincrement": True})


class SimulatedHandset(Base):
    """How the simulated carrier answers for one phone: the receipt it posts after each send
    (`delivered` when a phone has no row; `none` posts nothing)."""

    __tablename__ = "simulated_handset"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    receipt: Mapped[str] = mapped_column(String(16))  # delivered | undelivered | failed | none
    error_code: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


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
