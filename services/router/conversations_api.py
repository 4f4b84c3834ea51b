"""/v1/conversations: the agent's desk. The queue (oldest first, with the reason; all of it, one
agent's, or the unclaimed part), a conversation and its transcript, claiming (one agent owns a
conversation; another takes it over only on purpose), replying (sent through the sender like any
message) and resolving (hands the conversation back to automation at its step, or closes it when
there is no flow to resume)."""

from __future__ import annotations

import asyncio
import time
import uuid

from fastapi import APIRouter, Header, HTTPException, Query, Response
from pydantic import Field
from sqlalchemy import or_, select, update

from libs.common import placeholders
from libs.common.auth import TenantDep
from libs.common.db.models.router import Conversation, DncEntry, TranscriptLine
from libs.common.events.sms_outbound import SendSms
from libs.common.inputs import Input
from libs.common.phone import InvalidPhone, to_e164
from libs.common.service import CtxDep
from services.router import consumer, outcomes, store

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


AGENT = "The agent's id in your desk (e.g. an email address)."
MAX_KEY = 200  # an Idempotency-Key is the start's id in the processed ledger (200 characters)


class AgentReply(Input):
    body: str = Field(min_length=1, max_length=1600)
    # when given, it must be the agent the conversation is assigned to
    agent: str | None = Field(None, min_length=1, max_length=128, description=AGENT)


class Claim(Input):
    agent: str = Field(min_length=1, max_length=128, description=AGENT)
    take_over: bool = Field(False, description="Take it from the agent who holds it.")


class StartFlow(Input):
    phone: str
    flow_id: str


def _out(row: Conversation) -> dict:
    return {"id": row.id, "phone": row.phone, "flow_id": row.flow_id, "step": row.step,
            "status": row.status, "reason": row.handoff_reason, "handed_off_at": row.handed_off_at,
            "started_at": row.started_at, "updated_at": row.updated_at, "variables": row.variables,
            "end_reason": row.end_reason, "campaign_id": row.campaign_id,
            "assignee": row.assignee, "assigned_at": row.assigned_at}


def _phone(raw: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise HTTPException(422, f"phone: {exc}") from exc


async def _own(session, tenant_id: str, conversation_id: str) -> Conversation:
    row = await session.get(Conversation, conversation_id)
    if row is None or row.tenant_id != tenant_id:
        raise HTTPException(404, f"unknown conversation '{conversation_id}'")
    return row


@router.get("")
async def list_conversations(tenant_id: TenantDep, ctx: CtxDep,
                             status: str | None = Query(None, description="agent = the queue"),
                             assignee: str | None = Query(None, description="one agent's conversations"),
                             unassigned: bool = Query(False, description="only those nobody claimed"),
                             phone: str | None = None, limit: int = Query(100, ge=1, le=1000)) -> list:
    query = select(Conversation).where(Conversation.tenant_id == tenant_id)
    if status:
        query = query.where(Conversation.status == status)
    if assignee:
        query = query.where(Conversation.assignee == assignee)
    if unassigned:
        query = query.where(Conversation.assignee.is_(None))
    if phone:
        query = query.where(Conversation.phone == _phone(phone))
    order = (Conversation.handed_off_at, Conversation.id) if status == "agent" else (
        Conversation.started_at.desc(), Conversation.id)
    async with ctx.sessions() as session:
        rows = await session.scalars(query.order_by(*order).limit(limit))
        return [_out(r) for r in rows]


async def _send_blocked(session, tenant_id: str, phone: str) -> str | None:
    """Why an agent's message cannot go to this number, or None. The sender would suppress it
    anyway; this tells the agent before they type, and refuses the reply with the reason."""
    if await session.get(DncEntry, (tenant_id, phone)) is not None:
        return "the number is on the do-not-contact list: no message can be sent"
    if await store.consent(session, tenant_id, phone) == "opted_out":
        return "the subscriber opted out: no message can be sent"
    return None


def _line(t: TranscriptLine) -> dict:
    return {"id": t.id, "conversation_id": t.conversation_id, "direction": t.direction,
            "author": t.author, "agent": t.agent, "at": t.at,
            # what Parley wrote is kept as its template: show links as where they lead
            "body": t.body if t.direction == "in" else placeholders.as_read(t.body)}


@router.get("/{conversation_id}")
async def get_conversation(conversation_id: str, tenant_id: TenantDep, ctx: CtxDep,
                           earlier: int = Query(0, ge=0, le=200, description=(
                               "Also the subscriber's last N lines from before this conversation "
                               "(earlier conversations, texts outside any)."))) -> dict:
    """The conversation with its transcript, and `send_blocked`: why a reply would be refused
    (opted out, do-not-contact), or null."""
    async with ctx.sessions() as session:
        row = await _own(session, tenant_id, conversation_id)
        lines = list(await session.scalars(select(TranscriptLine).where(
            TranscriptLine.conversation_id == conversation_id).order_by(TranscriptLine.id)))
        before = []
        if earlier:
            first = lines[0].id if lines else None
            query = select(TranscriptLine).where(
                TranscriptLine.tenant_id == tenant_id, TranscriptLine.phone == row.phone,
                or_(TranscriptLine.conversation_id.is_(None),
                    TranscriptLine.conversation_id != conversation_id))
            if first is not None:
                query = query.where(TranscriptLine.id < first)
            before = list(await session.scalars(query.order_by(TranscriptLine.id.desc()).limit(earlier)))
        blocked = await _send_blocked(session, tenant_id, row.phone)
    return {**_out(row), "transcript": [_line(t) for t in lines],
            "earlier": [_line(t) for t in reversed(before)], "send_blocked": blocked}


@router.post("/{conversation_id}/reply", status_code=202)
async def agent_reply(conversation_id: str, body: AgentReply, tenant_id: TenantDep, ctx: CtxDep,
                      idempotency_key: str | None = Header(None)) -> dict:
    async with ctx.sessions() as session, session.begin():
        row = await _own(session, tenant_id, conversation_id)
        if body.agent and row.assignee and body.agent != row.assignee:
            raise HTTPException(409, f"the conversation is assigned to {row.assignee!r}: claim it "
                                     "with take_over first")
        if (blocked := await _send_blocked(session, tenant_id, row.phone)) is not None:
            raise HTTPException(409, blocked)
        action = uuid.uuid5(uuid.NAMESPACE_URL, f"agent:{conversation_id}:{idempotency_key}").hex \
            if idempotency_key else uuid.uuid4().hex
        session.add(TranscriptLine(tenant_id=tenant_id, phone=row.phone, conversation_id=row.id,
                                   direction="out", author="agent", agent=body.agent or row.assignee,
                                   body=body.body, at=ctx.clock()))
        cmd = SendSms(tenant_id=tenant_id, phone=row.phone, body=body.body, kind="reply",
                      action_id=action, flow_id=row.flow_id, step=row.step, campaign_id=row.campaign_id)
        await ctx.bus.emit(cmd)  # inside the transaction: no transcript line without its message
    return {"action_id": cmd.action_id, "status": "queued"}


@router.post("/{conversation_id}/resolve")
async def resolve(conversation_id: str, tenant_id: TenantDep, ctx: CtxDep) -> dict:
    async with ctx.sessions() as session, session.begin():
        row = await _own(session, tenant_id, conversation_id)
        if row.status != "agent":
            raise HTTPException(409, f"conversation is {row.status}, not with an agent")
        row.status = "active" if row.flow_id and row.step else "ended"
        row.end_reason = None if row.status == "active" else "resolved by agent"
        row.fallbacks, row.updated_at = 0, ctx.clock()
        row.assignee = row.assigned_at = None  # a later handoff is a new queue entry
        return _out(row)


@router.post("/{conversation_id}/claim")
async def claim(conversation_id: str, body: Claim, tenant_id: TenantDep, ctx: CtxDep) -> dict:
    """Assign a queued conversation to an agent. Claiming one you hold is a no-op; one another
    agent holds is 409 unless `take_over`. Two agents claiming at once: one wins (a conditional
    update), the other gets the 409."""
    async with ctx.sessions() as session, session.begin():
        row = await _own(session, tenant_id, conversation_id)
        if row.status != "agent":
            raise HTTPException(409, f"conversation is {row.status}, not waiting for an agent")
        if row.assignee == body.agent:
            return _out(row)
        query = update(Conversation).where(Conversation.id == conversation_id,
                                           Conversation.status == "agent")
        if not body.take_over:
            query = query.where(or_(Conversation.assignee.is_(None),
                                    Conversation.assignee == body.agent))
        now = ctx.clock()
        result = await session.execute(query.values(assignee=body.agent, assigned_at=now, updated_at=now)
                                       .execution_options(synchronize_session=False))
        if result.rowcount == 0:
            await session.refresh(row)
            raise HTTPException(409, f"the conversation is assigned to {row.assignee!r} "
                                     "(take_over to take it)")
        await session.refresh(row)
        return _out(row)


@router.post("/{conversation_id}/release")
async def release(conversation_id: str, tenant_id: TenantDep, ctx: CtxDep) -> dict:
    """Put a claimed conversation back in the unclaimed queue (it keeps its place)."""
    async with ctx.sessions() as session, session.begin():
        row = await _own(session, tenant_id, conversation_id)
        row.assignee = row.assigned_at = None
        row.updated_at = ctx.clock()
        return _out(row)


@router.post("/start", status_code=200, responses={
    202: {"description": "Some messages are still pending: the sender gave no verdict within wait."}})
async def start(body: StartFlow, tenant_id: TenantDep, ctx: CtxDep, response: Response,
                idempotency_key: str | None = Header(None),
                wait: float = Query(2.0, ge=0, le=10, description=(
                    "Seconds to wait for the sender's verdict on each message."))) -> dict:
    """Start a flow for one subscriber (e.g. post-purchase feedback when an order ships) and say
    what became of each message: 200 once the sender decided on all of them, 202 when some are
    still `pending` after `wait` seconds (look them up later at /v1/messages)."""
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_KEY:
        raise HTTPException(422, f"Idempotency-Key: 1 to {MAX_KEY} characters")
    phone = _phone(body.phone)
    async with ctx.sessions() as session:
        consent = await store.consent(session, tenant_id, phone)
        if consent == "opted_out":
            raise HTTPException(409, "the subscriber opted out")
        rules = await consumer.tenant_rules(ctx, session, tenant_id)
    if rules is None or rules.flow(body.flow_id) is None:
        raise HTTPException(404, f"unknown flow '{body.flow_id}'")
    if not rules.flow(body.flow_id).active:
        raise HTTPException(409, f"flow '{body.flow_id}' is deactivated (POST /v1/flows/"
                                 f"{body.flow_id}/activate)")
    events = await consumer.start_flow(ctx, tenant_id, phone, body.flow_id,
                                       idempotency_key or uuid.uuid4().hex)
    verdicts = await _verdicts(ctx, [e for e in events if isinstance(e, SendSms)], wait)
    if not all(v.settled for v in verdicts):
        response.status_code = 202
    return {"flow_id": body.flow_id, "phone": phone, "consent": consent,
            "messages": [v.as_dict() for v in verdicts]}


POLL_SECONDS = 0.05


async def _verdicts(ctx, sends: list[SendSms], wait: float) -> list[outcomes.Verdict]:
    """The sender's verdict on each message, polled until all are settled or `wait` is over."""
    deadline = time.monotonic() + wait
    while True:
        async with ctx.sessions() as session:
            rows = await store.outbound_messages(session, [s.action_id for s in sends])
        verdicts = [outcomes.verdict(s, rows.get(s.action_id)) for s in sends]
        if all(v.settled for v in verdicts) or time.monotonic() >= deadline:
            return verdicts
        await asyncio.sleep(POLL_SECONDS)
