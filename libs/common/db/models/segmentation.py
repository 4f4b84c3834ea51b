"""Owner: segmentation. Subscriber profiles, labels, attributes, scores and their history, the
interactions segments are compiled against, the replies nothing understood, segments, broadcasts,
conversions and experiments.

Other services may read these tables; the router reads `experiment` and `experiment_variant` to
choose a prompt variant (see `libs/common/bandit.py`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.base import Base, UtcDateTime

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class Subscriber(Base):
    """One profile per tenant and phone. `consent` mirrors the router's consent events.
    `next_decay_at` is when the next quiet-period decay falls due (indexed for the decay job)."""

    __tablename__ = "subscriber"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    consent: Mapped[str] = mapped_column(String(16), default="unknown")
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_interaction_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_interaction_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replies: Mapped[int] = mapped_column(Integer, default=0)
    messages_received: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quiet_decays: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_decay_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_subscriber_tenant_score", "tenant_id", "score"),
        Index("ix_subscriber_next_decay_at", "next_decay_at"),
    )


class SubscriberLabel(Base):
    __tablename__ = "subscriber_label"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # event | api | broadcast
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_subscriber_label_tenant_label", "tenant_id", "label", "phone"),)


class SubscriberAttribute(Base):
    """Custom attributes as key/value rows: indexable per name on SQLite and PostgreSQL alike;
    `num_value` holds the value when it parses as a number, for numeric comparisons."""

    __tablename__ = "subscriber_attribute"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))
    num_value: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_subscriber_attribute_tenant_name", "tenant_id", "name", "value"),)


class ScoreEntry(Base):
    """Every change to a score with its rule, so a score can be explained. `ref` makes a change
    idempotent: one delivered point per message, one click bonus per link, one decay per period."""

    __tablename__ = "score_entry"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(200))
    delta: Mapped[int] = mapped_column(Integer)
    score_after: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("tenant_id", "phone", "rule", "ref", name="uq_score_entry_ref"),
        Index("ix_score_entry_subscriber", "tenant_id", "phone", "at"),
    )


class ScoringWeights(Base):
    """A tenant's own points per scoring rule; missing rules use the defaults."""

    __tablename__ = "scoring_weights"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SegmentationMessage(Base):
    """Segmentation's ledger of messages sent (from sms.sent), the unit of delivered, reply and
    click attribution. `experiment_id` is set when the message's variant belongs to an experiment."""

    __tablename__ = "segmentation_message"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    carrier: Mapped[str | None] = mapped_column(String(32))
    carrier_message_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    experiment_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_reply_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_match_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_click_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_segmentation_message_carrier", "tenant_id", "carrier", "carrier_message_id"),
        Index("ix_segmentation_message_subscriber", "tenant_id", "phone", "sent_at"),
        Index("ix_segmentation_message_campaign", "tenant_id", "campaign_id", "delivered_at"),
    )


class DeliveryReceipt(Base):
    """A carrier receipt, kept so one that overtakes its sms.sent still applies when that arrives."""

    __tablename__ = "delivery_receipt"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    carrier_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)  # ledger pruning


class Interaction(Base):
    """What subscribers did, with the message it is attributed to: the table segment rules
    (`replied`, `clicked`) and metrics query. Kinds: reply, click, opt_out, conversation_started,
    conversation_completed, handed_off. A reply row carries its keyword once the router matched it;
    `source_id` (the inbound carrier message id of a reply, the code of a link) is how the router's
    keyword verdict finds the reply it is about, whichever of the two arrives first."""

    __tablename__ = "interaction"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    source_id: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    keyword: Mapped[str | None] = mapped_column(String(64))
    recognised: Mapped[bool | None] = mapped_column(Boolean)
    tag: Mapped[str | None] = mapped_column(String(64))
    reply_triggered: Mapped[bool | None] = mapped_column(Boolean)
    latency_s: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_interaction_subscriber", "tenant_id", "phone", "kind", "at"),
        Index("ix_interaction_scope", "tenant_id", "kind", "at"),
        Index("ix_interaction_source", "tenant_id", "phone", "kind", "source_id"),
    )


class UnmatchedReply(Base):
    """A reply the router understood nothing of (keyword_unmatched), with its text, for the
    insights report. The reply and its verdict arrive on different topics in either order: a reply
    waits here with `judged` false until its verdict (deleted if it was matched); a verdict first
    leaves a row without text that its reply fills. Pruned with the ledgers, by `at`."""

    __tablename__ = "unmatched_reply"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(200))  # the inbound carrier message id
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    judged: Mapped[bool] = mapped_column(Boolean, default=False)
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(String(160))  # normalised, what clusters compare
    raw: Mapped[str | None] = mapped_column(String(320))  # as the subscriber wrote it (cut)

    __table_args__ = (
        UniqueConstraint("tenant_id", "phone", "source_id", name="uq_unmatched_reply_source"),
        Index("ix_unmatched_reply_scope", "tenant_id", "judged", "at"),
    )


class Segment(Base):
    __tablename__ = "segment"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Broadcast(Base):
    """A launch of a flow or one message to a segment's audience (resolved at launch). Pacing
    state (`credit`, `paced_at`, `cursor`) lives here so a restart resumes where it stopped. The broadcast id
    is the campaign id the router stamps on what it sends."""

    __tablename__ = "broadcast"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    segment_id: Mapped[str] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str | None] = mapped_column(Text)
    variant: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # running | paused | completed | cancelled
    rate_per_minute: Mapped[int] = mapped_column(Integer)
    reply_window_hours: Mapped[int] = mapped_column(Integer)
    audience: Mapped[int] = mapped_column(Integer, default=0)
    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    credit: Mapped[float] = mapped_column(Float, default=0.0)
    paced_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cursor: Mapped[str | None] = mapped_column(String(20))  # last phone handed out, in phone order
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_broadcast_state", "state"),)


class BroadcastRecipient(Base):
    """One row per audience member: the primary key is what makes an enrollment happen once."""

    __tablename__ = "broadcast_recipient"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    broadcast_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # pending | enrolled | skipped | suppressed
    enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reply_deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_broadcast_recipient_state", "tenant_id", "broadcast_id", "state",
                            "phone"),)


class Conversion(Base):
    """An order posted to /v1/conversions, attributed to the subscriber's last reply in the window."""

    __tablename__ = "conversion"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    reply_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    message_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_conversion_tenant_at", "tenant_id", "at"),)


class Experiment(Base):
    """An A/B test of a prompt, bound to a flow step (or a campaign's single message).

    The router reads it when it sends that step's prompt: `allocation` is `fixed` (weights) or
    `thompson`; once `winner` is set every send uses it; `state` running | promoted | stopped
    (stopped: send the step's own prompt, no variant)."""

    __tablename__ = "experiment"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    goal: Mapped[str] = mapped_column(String(16))  # reply | keyword | click
    allocation: Mapped[str] = mapped_column(String(16))  # fixed | thompson
    auto_promote: Mapped[bool] = mapped_column(Boolean)
    threshold: Mapped[float] = mapped_column(Float)
    min_sends: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    winner: Mapped[str | None] = mapped_column(String(64))
    promoted_by: Mapped[str | None] = mapped_column(String(16))  # hand | auto
    promoted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_experiment_scope", "tenant_id", "flow_id", "step", "state"),)


class ExperimentVariant(Base):
    """One arm: its prompt, its fixed-split weight, and its Beta–Bernoulli counts (sends = trials,
    successes = sends that reached the experiment's goal), kept current from events."""

    __tablename__ = "experiment_variant"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    prompt: Mapped[str] = mapped_column(Text)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    sends: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedEvent(Base):
    """Event ids segmentation has applied, so a redelivered event changes nothing."""

    __tablename__ = "segmentation_processed_event"

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)  # ledger pruning
