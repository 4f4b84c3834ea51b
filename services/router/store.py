"""Router queries and the one place decisions are written. Makes no decisions itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.router import (
    DEFAULT_PROGRAM,
    CampaignRule,
    Consent,
    ConsentAudit,
    Conversation,
    FlowDefinition,
    OutgoingWebhook,
    ProcessedInbound,
    Timer,
    TranscriptLine,
)
from libs.common.db.models.tenancy import Tenant
from services.router.effects import ConvState, Effects
from services.router.flows.model import Flow, Rule

OPEN = ("active", "agent")


async def tenant(session: AsyncSession, tenant_id: str) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def rules_and_flows(session: AsyncSession, tenant_id: str) -> tuple[list[Rule], dict[str, Flow]]:
    rules = [Rule.model_validate(r.definition) for r in await session.scalars(
        select(CampaignRule).where(CampaignRule.tenant_id == tenant_id).order_by(CampaignRule.id))]
    flows = {f.id: Flow.model_validate(f.definition) for f in await session.scalars(
        select(FlowDefinition).where(FlowDefinition.tenant_id == tenant_id))}
    return rules, flows


async def definitions_version(session: AsyncSession, tenant_id: str) -> tuple:
    """Changes whenever a rule or flow of the tenant changes (cache key)."""
    r = await session.execute(select(func.count(), func.max(CampaignRule.updated_at))
                              .where(CampaignRule.tenant_id == tenant_id))
    f = await session.execute(select(func.count(), func.max(FlowDefinition.updated_at))
                              .where(FlowDefinition.tenant_id == tenant_id))
    t = await session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
    return (*r.one(), *f.one(), t)


async def consent(session: AsyncSession, tenant_id: str, phone: str,
                  program_id: str = DEFAULT_PROGRAM) -> str | None:
    return await session.scalar(select(Consent.status).where(
        Consent.tenant_id == tenant_id, Consent.program_id == program_id, Consent.phone == phone))


def _conv_state(row: Conversation) -> ConvState:
    return ConvState(id=row.id, flow_id=row.flow_id, step=row.step, status=row.status,
                     variables=dict(row.variables or {}), fallbacks=row.fallbacks,
                     campaign_id=row.campaign_id, variant=row.variant,
                     handoff_reason=row.handoff_reason, end_reason=row.end_reason)


async def open_conversation(session: AsyncSession, tenant_id: str, phone: str,
                            for_update: bool = False) -> ConvState | None:
    query = (select(Conversation).where(Conversation.tenant_id == tenant_id, Conversation.phone == phone,
                                        Conversation.status.in_(OPEN))
             .order_by(Conversation.started_at.desc()).limit(1))
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    return _conv_state(row) if row else None


async def conversation(session: AsyncSession, conversation_id: str) -> ConvState | None:
    row = await session.get(Conversation, conversation_id)
    return _conv_state(row) if row else None


async def processed(session: AsyncSession, tenant_id: str, carrier: str,
                    message_id: str) -> ProcessedInbound | None:
    return await session.get(ProcessedInbound, (tenant_id, carrier, message_id))


def record_processed(session: AsyncSession, tenant_id: str, carrier: str, message_id: str,
                     events: list[dict[str, Any]], now: datetime) -> None:
    session.add(ProcessedInbound(tenant_id=tenant_id, carrier=carrier, carrier_message_id=message_id,
                                 events=events, processed_at=now))


async def apply(session: AsyncSession, fx: Effects, *, source_text: str | None = None) -> None:
    """Write everything a decision changed, in the caller's transaction."""
    now = fx.now
    if fx.consent is not None:
        row = await session.get(Consent, (fx.tenant_id, DEFAULT_PROGRAM, fx.phone))
        if row is None:
            session.add(Consent(tenant_id=fx.tenant_id, program_id=DEFAULT_PROGRAM, phone=fx.phone,
                                status=fx.consent.status, updated_at=now))
        else:
            row.status, row.updated_at = fx.consent.status, now
        session.add(ConsentAudit(tenant_id=fx.tenant_id, program_id=DEFAULT_PROGRAM, phone=fx.phone,
                                 status=fx.consent.status, keyword=fx.consent.keyword,
                                 source=fx.consent.source, source_message_id=fx.in_reply_to,
                                 source_text=source_text, at=now))
        if fx.consent.status == "opted_out":  # nothing pending may fire for an opted-out number
            await session.execute(update(Timer).where(
                Timer.tenant_id == fx.tenant_id, Timer.phone == fx.phone, Timer.status == "pending")
                .values(status="cancelled"))
    for conv in fx.conversations.values():
        row = await session.get(Conversation, conv.id)
        if row is None:
            row = Conversation(id=conv.id, tenant_id=fx.tenant_id, phone=fx.phone, started_at=now)
            session.add(row)
        row.flow_id, row.step, row.status = conv.flow_id, conv.step, conv.status
        row.variables, row.fallbacks = dict(conv.variables), conv.fallbacks
        row.campaign_id, row.variant = conv.campaign_id, conv.variant
        row.end_reason, row.updated_at = conv.end_reason, now
        if conv.status == "agent" and row.handoff_reason != conv.handoff_reason:
            row.handoff_reason, row.handed_off_at = conv.handoff_reason, now
    if fx.cancel_timers_of:
        await session.execute(update(Timer).where(
            Timer.conversation_id.in_(fx.cancel_timers_of), Timer.status == "pending")
            .values(status="cancelled"))
        await session.flush()
    for spec in fx.timers:
        session.add(Timer(id=fx.next_id("timer"), tenant_id=fx.tenant_id, phone=fx.phone,
                          conversation_id=spec.conversation_id, kind=spec.kind, step=spec.step,
                          due_at=spec.due_at, status="pending", created_at=now))
    for call in fx.webhooks:
        session.add(OutgoingWebhook(id=call.id, tenant_id=fx.tenant_id, url=call.url, secret=call.secret,
                                    payload=call.payload, status="pending", attempts=0,
                                    next_attempt_at=now, created_at=now))
    for conversation_id, direction, author, body in fx.transcript:
        session.add(TranscriptLine(tenant_id=fx.tenant_id, phone=fx.phone, conversation_id=conversation_id,
                                   direction=direction, author=author, body=body, at=now))
