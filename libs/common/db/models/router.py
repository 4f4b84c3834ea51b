"""Owner: router. Consent (with its append-only audit trail), keyword rules, flows,
conversations and their transcripts, durable timers, outgoing webhooks, processed inbound ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.base import Base, UtcDateTime

DEFAULT_PROGRAM = "default"


class Consent(Base):
    """Current consent per subscriber and program: the sender reads it right before each send."""

    __tablename__ = "consent"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(64), primary_key=True, default=DEFAULT_PROGRAM)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # opted_in | opted_out
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ConsentAudit(Base):
    """Append-only: every consent change with its evidence. Never updated or deleted."""

    __tablename__ = "consent_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    program_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(24), server_default="change")
    # opt_in_request | confirmation | opt_out | re_opt_in | import | carrier_opt_out | change
    keyword: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))  # sms | web | api | carrier | import
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    import_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    source_message_id: Mapped[str | None] = mapped_column(String(200))
    source_text: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_consent_audit_subscriber", "tenant_id", "phone", "id"),)


class ProcessedInbound(Base):
    """Inputs the router has decided (inbound messages by carrier id; clicks and enrollments with
    carrier = "click"/"enrollment"), with the events they produced: a redelivery re-publishes these
    same events (same ids) instead of deciding again."""

    __tablename__ = "router_processed_inbound"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    carrier_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    events: Mapped[list[Any]] = mapped_column(JSON)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)  # ledger pruning


class CampaignRule(Base):
    __tablename__ = "campaign_rule"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FlowDefinition(Base):
    __tablename__ = "flow_definition"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Conversation(Base):
    """A subscriber's conversation: at most one `active` or `agent` per tenant and phone."""

    __tablename__ = "conversation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # active | agent | completed | ended
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    handoff_reason: Mapped[str | None] = mapped_column(String(200))
    handed_off_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    assignee: Mapped[str | None] = mapped_column(String(128))  # the agent who claimed it
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_conversation_open", "tenant_id", "phone", "status"),
        Index("ix_conversation_queue", "tenant_id", "status", "handed_off_at"),
        Index("ix_conversation_assignee", "tenant_id", "assignee", "status"),
    )


class TranscriptLine(Base):
    __tablename__ = "transcript_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    author: Mapped[str] = mapped_column(String(16))  # subscriber | automation | agent
    agent: Mapped[str | None] = mapped_column(String(128))  # which agent, when they said
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_transcript_line_subscriber", "tenant_id", "phone", "id"),)


class Timer(Base):
    """A durable timer (flow timeout, click follow-up, no-click nudge). Fired once: the firing
    transaction claims it with FOR UPDATE SKIP LOCKED on PostgreSQL."""

    __tablename__ = "router_timer"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # timeout | click | no_click
    step: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # pending | fired | cancelled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_router_timer_due", "status", "due_at"),)


class OutgoingWebhook(Base):
    """A message forwarded to a tenant's webhook (HMAC-signed), retried until delivered."""

    __tablename__ = "outgoing_webhook"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed | skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_outgoing_webhook_due", "status", "next_attempt_at"),)


class Program(Base):
    """A tenant's messaging program ("marketing", "order alerts"): its numbers, texts, join
    keywords and welcome flow. A tenant without rows has one implicit program, `default`."""

    __tablename__ = "program"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OptInRequest(Base):
    """A pending double opt-in: consent counts only once the subscriber confirms (Y)."""

    __tablename__ = "opt_in_request"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    program_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(16))  # sms | web | api
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | confirmed | expired
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_opt_in_request_pending", "tenant_id", "phone", "status"),)


class DncEntry(Base):
    """Do-not-contact: numbers a tenant must never message, checked by the sender like an
    opt-out; an import can never opt them in."""

    __tablename__ = "dnc_entry"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ImportJob(Base):
    """A bulk subscriber import: validated whole before anything is applied, then applied in
    batches that a re-run (or a resume after a crash) repeats without changing anything."""

    __tablename__ = "import_job"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    file_name: Mapped[str] = mapped_column(String(300))
    program_id: Mapped[str] = mapped_column(String(64))  # for rows that name no program
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # validating | applying | done | failed
    error: Mapped[str | None] = mapped_column(Text)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_valid: Mapped[int] = mapped_column(Integer, default=0)
    rows_applied: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ImportRowError(Base):
    __tablename__ = "import_row_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
