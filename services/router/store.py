"""Router queries and the one place decisions are written. Makes no decisions itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.router import (
    DEFAULT_PROGRAM,
    CampaignRule,
    Consent,
    ConsentAudit,
    Conversation,
    FlowDefinition,
    OptInRequest,
    OutgoingWebhook,
    ProcessedInbound,
    Program,
    Timer,
    TranscriptLine,
)
from libs.common.db.models.sender import OutboundMessage, SendingNumber
from libs.common.db.models.tenancy import Tenant
from libs.common.inputs import STORED
from services.router.effects import ConvState, Effects, PendingOptIn
from services.router.flows.model import Flow, Rule
from services.router.programs import ProgramDef

OPEN = ("active", "agent")


async def tenant(session: AsyncSession, tenant_id: str) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


@dataclass
class Loaded:
    """A tenant's stored definitions, read back with `STORED` validation; `invalid` names those
    that do not validate even so (written around the API, or by a far older version)."""

    rules: list[Rule] = field(default_factory=list)
    flows: dict[str, Flow] = field(default_factory=dict)
    programs: list[ProgramDef] = field(default_factory=list)
    invalid: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, id, error)


async def rules_and_flows(session: AsyncSession, tenant_id: str) -> Loaded:
    out = Loaded()

    async def valid(kind: str, table, model) -> list:
        items = []
        for row in await session.scalars(select(table).where(table.tenant_id == tenant_id)
                                         .order_by(table.id)):
            try:
                items.append(model.model_validate(row.definition, context=STORED))
            except ValidationError as exc:
                out.invalid.append((kind, row.id, str(exc).replace("\n", " ")[:500]))
        return items

    out.rules = await valid("campaign", CampaignRule, Rule)
    out.flows = {f.id: f for f in await valid("flow", FlowDefinition, Flow)}
    out.programs = await valid("program", Program, ProgramDef)
    return out


async def definitions_version(session: AsyncSession, tenant_id: str) -> tuple:
    """Changes whenever a rule, flow, program or sending number of the tenant changes (cache key)."""
    r = await session.execute(select(func.count(), func.max(CampaignRule.updated_at))
                              .where(CampaignRule.tenant_id == tenant_id))
    f = await session.execute(select(func.count(), func.max(FlowDefinition.updated_at))
                              .where(FlowDefinition.tenant_id == tenant_id))
    p = await session.execute(select(func.count(), func.max(Program.updated_at))
                              .where(Program.tenant_id == tenant_id))
    n = await session.execute(select(func.count(), func.max(SendingNumber.created_at))
                              .where(SendingNumber.tenant_id == tenant_id))
    t = await session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
    return (*r.one(), *f.one(), *p.one(), *n.one(), t)


async def outbound_messages(session: AsyncSession, action_ids: list[str]) -> dict[str, OutboundMessage]:
    """The sender's rows for these actions, by action id (the sender's table, read only)."""
    if not action_ids:
        return {}
    rows = await session.scalars(select(OutboundMessage).where(OutboundMessage.action_id.in_(action_ids)))
    return {row.action_id: row for row in rows}


async def sending_numbers(session: AsyncSession, tenant_id: str) -> list[str]:
    """The tenant's registered sending numbers (the sender's table, read only)."""
    return list(await session.scalars(select(SendingNumber.number)
                                      .where(SendingNumber.tenant_id == tenant_id)))


async def consent(session: AsyncSession, tenant_id: str, phone: str,
                  program_id: str = DEFAULT_PROGRAM) -> str | None:
    return await session.scalar(select(Consent.status).where(
        Consent.tenant_id == tenant_id, Consent.program_id == program_id, Consent.phone == phone))


async def consents(session: AsyncSession, tenant_id: str, phone: str) -> dict[str, str]:
    """Every program's consent of one subscriber (program id → opted_in | opted_out)."""
    rows = await session.execute(select(Consent.program_id, Consent.status).where(
        Consent.tenant_id == tenant_id, Consent.phone == phone))
    return {program_id: status for program_id, status in rows if status}


async def last_clarification(session: AsyncSession, tenant_id: str, phone: str) -> datetime | None:
    """When an unclear text of this subscriber was last answered with the clarifying question."""
    return await session.scalar(select(func.max(ConsentAudit.at)).where(
        ConsentAudit.tenant_id == tenant_id, ConsentAudit.phone == phone,
        ConsentAudit.event == "clarify_asked"))


async def pending_opt_in(session: AsyncSession, tenant_id: str, phone: str,
                         now: datetime) -> PendingOptIn | None:
    row = await session.scalar(select(OptInRequest).where(
        OptInRequest.tenant_id == tenant_id, OptInRequest.phone == phone,
        OptInRequest.status == "pending", OptInRequest.expires_at > now)
        .order_by(OptInRequest.requested_at.desc()).limit(1))
    return PendingOptIn(row.id, row.program_id, dict(row.evidence), row.expires_at) if row else None


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
        change = fx.consent
        for program_id in change.programs:
            await set_consent(session, fx.tenant_id, program_id, fx.phone, change.status, now)
            session.add(ConsentAudit(
                tenant_id=fx.tenant_id, program_id=program_id, phone=fx.phone, status=change.status,
                event=change.event, keyword=change.keyword, source=change.source,
                evidence=change.evidence, source_message_id=fx.in_reply_to, source_text=source_text,
                at=now))
        if change.status == "opted_out":  # nothing pending may fire for an opted-out number
            await session.execute(update(Timer).where(
                Timer.tenant_id == fx.tenant_id, Timer.phone == fx.phone, Timer.status == "pending")
                .values(status="cancelled"))
    for note in fx.consent_notes:
        session.add(ConsentAudit(tenant_id=fx.tenant_id, program_id=note.program_id, phone=fx.phone,
                                 status=note.status, event=note.event, source="sms",
                                 evidence=note.evidence, source_message_id=fx.in_reply_to,
                                 source_text=source_text, at=now))
    if fx.opt_in_requested is not None:
        req = fx.opt_in_requested
        session.add(OptInRequest(id=req.id, tenant_id=fx.tenant_id, program_id=req.program_id,
                                 phone=fx.phone, channel=str(req.evidence.get("channel", "sms")),
                                 evidence=req.evidence, status="pending", requested_at=now,
                                 expires_at=req.expires_at))
        session.add(ConsentAudit(tenant_id=fx.tenant_id, program_id=req.program_id, phone=fx.phone,
                                 status="requested", event="opt_in_request",
                                 keyword=req.evidence.get("keyword"), source="sms",
                                 evidence=req.evidence, source_message_id=fx.in_reply_to,
                                 source_text=source_text, at=now))
    if fx.opt_in_resolved is not None:
        request_id, status = fx.opt_in_resolved
        await session.execute(update(OptInRequest).where(OptInRequest.id == request_id)
                              .values(status=status))
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
    for conversation_id, kind in fx.cancel_timer_kinds:
        if conversation_id not in fx.cancel_timers_of:
            await session.execute(update(Timer).where(
                Timer.conversation_id == conversation_id, Timer.kind == kind,
                Timer.status == "pending").values(status="cancelled"))
    if fx.cancel_timers_of or fx.cancel_timer_kinds:
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


async def set_consent(session: AsyncSession, tenant_id: str, program_id: str, phone: str, status: str,
                      now: datetime) -> None:
    row = await session.get(Consent, (tenant_id, program_id, phone))
    if row is None:
        session.add(Consent(tenant_id=tenant_id, program_id=program_id, phone=phone, status=status,
                            updated_at=now))
    else:
        row.status, row.updated_at = status, now
