"""Sender HTTP: /v1/numbers, /v1/messages, and the simulated carrier's handset (/simulator)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

import structlog
from fastapi import APIRouter, Header, HTTPException, Query, Response
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from libs.common.auth import TenantDep
from libs.common.db.models.sender import OutboundMessage, SendingNumber
from libs.common.events import Event
from libs.common.events.sms_outbound import SendSms
from libs.common.phone import InvalidPhone, is_short_code, to_e164
from libs.common.service import Ctx, CtxDep
from services.sender import cache, links, preview, sending, store
from services.sender.carriers.simulator import client as simulator
from services.sender.policy import SendingRules
from services.sender.schemas import (
    HandsetIn,
    HandsetOut,
    HistoryOut,
    LinkOut,
    MessageIn,
    MessageOut,
    NumberIn,
    NumberOut,
    OutboxMessage,
    PreviewIn,
    PreviewOut,
)

log = structlog.get_logger("parley.sender.api")

numbers = APIRouter(prefix="/v1/numbers", tags=["numbers"])
messages = APIRouter(prefix="/v1/messages", tags=["messages"])
handset = APIRouter(prefix="/simulator", tags=["simulator"])

MAX_BODY = 1600  # 10 concatenated GSM-7 segments; carriers refuse longer bodies


def _e164(raw: str, field: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise HTTPException(422, f"{field}: {exc}") from exc


# --- numbers ------------------------------------------------------------------------------------

@numbers.post("", status_code=201, response_model=NumberOut)
async def register_number(body: NumberIn, tenant_id: TenantDep, ctx: CtxDep) -> SendingNumber:
    """Register a sending number. A number belongs to one tenant: a second registration is a 409,
    whoever asks (the unique constraint decides, so two racing requests cannot both win)."""
    number = _e164(body.number, "number")
    row = SendingNumber(tenant_id=tenant_id, number=number, carrier=body.carrier,
                        number_type=body.number_type, is_default=body.is_default,
                        rate_per_s=body.rate_per_s, created_at=ctx.clock())
    try:
        async with ctx.sessions() as session, session.begin():
            session.add(row)
    except IntegrityError as exc:
        async with ctx.sessions() as session:
            owner = await store.number_owner(session, number)
        mine = owner == tenant_id
        log.info("number_refused", tenant=tenant_id, number=number, owned_by_caller=mine)
        raise HTTPException(409, f"number: {number} is "
                                 f"{'already registered' if mine else 'registered to another tenant'}"
                            ) from exc
    cache.of(ctx).clear()
    return row


@numbers.get("", response_model=list[NumberOut])
async def list_numbers(tenant_id: TenantDep, ctx: CtxDep) -> list[SendingNumber]:
    async with ctx.sessions() as session:
        return await store.numbers(session, tenant_id)


@numbers.delete("/{number}", status_code=204)
async def remove_number(number: str, tenant_id: TenantDep, ctx: CtxDep) -> Response:
    number = _e164(number, "number")
    async with ctx.sessions() as session, session.begin():
        result = await session.execute(delete(SendingNumber).where(
            SendingNumber.tenant_id == tenant_id, SendingNumber.number == number))
    if result.rowcount == 0:
        raise HTTPException(404, f"{number} is not registered")
    cache.of(ctx).clear()
    return Response(status_code=204)


# --- settings -----------------------------------------------------------------------------------

@messages.get("/settings", response_model=SendingRules)
async def get_settings(tenant_id: TenantDep, ctx: CtxDep) -> SendingRules:
    async with ctx.sessions() as session:
        return await store.rules(session, tenant_id)


@messages.put("/settings", response_model=SendingRules)
async def put_settings(body: SendingRules, tenant_id: TenantDep, ctx: CtxDep) -> SendingRules:
    async with ctx.sessions() as session, session.begin():
        await store.save_rules(session, tenant_id, body, ctx.clock())
    cache.of(ctx).clear()
    return body


# --- messages -----------------------------------------------------------------------------------

def _checked(body: MessageIn) -> tuple[str, str]:
    """(recipient, text) or a 422 that says what is wrong."""
    to = _e164(body.to, "to")
    if is_short_code(to):
        raise HTTPException(422, "to: a short code cannot receive messages")
    if not body.body.strip():
        raise HTTPException(422, "body: the message is empty")
    if len(body.body) > MAX_BODY:
        raise HTTPException(422, f"body: {len(body.body):,} characters; at most {MAX_BODY:,} can be sent")
    try:
        links.validate(body.body)
    except links.BadPlaceholder as exc:
        raise HTTPException(422, f"body: {exc}") from exc
    return to, body.body


def _action_id(tenant_id: str, key: str | None) -> str:
    if key is None:
        return f"api:{uuid.uuid4().hex}"
    if not 1 <= len(key) <= 255:
        raise HTTPException(422, "Idempotency-Key: 1 to 255 characters")
    return "api:" + hashlib.sha256(f"{tenant_id}\0{key}".encode()).hexdigest()[:56]


async def _sending_number(ctx: Ctx, tenant_id: str, raw: str | None) -> str:
    number = _e164(raw, "from") if raw else None
    async with ctx.sessions() as session:
        row = await store.sending_number(session, tenant_id, number)
    if row is None:
        raise HTTPException(422, f"from: {number} is not a registered sending number (POST /v1/numbers)"
                            if number else "the tenant has no registered sending number (POST /v1/numbers)")
    return row.number


async def _publish(ctx: Ctx, events: list[Event]) -> None:
    for event in events:
        try:
            await ctx.bus.emit(event)
        except Exception as exc:  # the send is settled and answered; only its fact is late or lost
            log.error("fact_not_published", topic=event.TOPIC, error=repr(exc))


async def _view(ctx: Ctx, message_id: str) -> MessageOut:
    async with ctx.sessions() as session:
        row = await session.get(OutboundMessage, message_id)
        history = await store.history(session, message_id)
        tracked = await store.links_of(session, message_id)
    out = MessageOut.model_validate(row, from_attributes=True)
    out.history = [HistoryOut.model_validate(h, from_attributes=True) for h in history]
    out.links = [LinkOut.model_validate(link, from_attributes=True) for link in tracked]
    return out


@messages.post("", status_code=201, response_model=MessageOut)
async def send_message(body: MessageIn, tenant_id: TenantDep, ctx: CtxDep, response: Response,
                       idempotency_key: Annotated[str | None, Header()] = None) -> MessageOut:
    """Send one message now, through every send-time check (consent, quiet hours and caps for
    marketing, the number's rate). A repeated `Idempotency-Key` returns the first message (200)."""
    to, text = _checked(body)
    from_number = await _sending_number(ctx, tenant_id, body.from_)
    cmd = SendSms(tenant_id=tenant_id, phone=to, from_number=from_number, body=text, kind=body.kind,
                  action_id=_action_id(tenant_id, idempotency_key), campaign_id=body.campaign_id)
    async with ctx.sessions() as session:
        earlier = await store.message_for_action(session, cmd.action_id)
    if earlier is None:
        result = await sending.submit(ctx, cmd, f"api:{uuid.uuid4().hex}")
        await _publish(ctx, result.events)
        if result.created:
            return await _view(ctx, result.message_id)
        earlier_id = result.message_id  # the same key, sent by a concurrent request
    else:
        earlier_id = earlier.id
    return await _replay(ctx, earlier_id, (to, text, from_number, body.kind), response)


async def _replay(ctx: Ctx, message_id: str, asked: tuple, response: Response) -> MessageOut:
    view = await _view(ctx, message_id)
    if (view.phone, view.body, view.from_number, view.kind) != asked:
        raise HTTPException(409, "Idempotency-Key was already used for a different message")
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
    return view


@messages.post("/preview", response_model=PreviewOut)
async def preview_message(body: PreviewIn, tenant_id: TenantDep, ctx: CtxDep) -> PreviewOut:
    """What `body` would cost if sent now, with this tenant's settings: the text as sent, its
    encoding and segments, the look-alikes replaced and the characters that need UCS-2. Sends
    nothing (an editor calls it as the user types)."""
    try:
        links.validate(body.body)
    except links.BadPlaceholder as exc:
        raise HTTPException(422, f"body: {exc}") from exc
    async with ctx.sessions() as session:
        rules = await cache.rules(ctx, session, tenant_id)
    seen = preview.preview(body.body, rules.replace_lookalikes, sending.link_base(ctx))
    return PreviewOut(**vars(seen), max_characters=MAX_BODY, too_long=len(body.body) > MAX_BODY)


@messages.get("", response_model=list[MessageOut])
async def list_messages(tenant_id: TenantDep, ctx: CtxDep, phone: str | None = None,
                        status: str | None = Query(None, max_length=16),
                        limit: int = Query(50, ge=1, le=500)) -> list[MessageOut]:
    async with ctx.sessions() as session:
        rows = await store.messages(session, tenant_id, _e164(phone, "phone") if phone else None,
                                    status, limit)
    return [MessageOut.model_validate(r, from_attributes=True) for r in rows]


@messages.get("/{message_id}", response_model=MessageOut)
async def get_message(message_id: str, tenant_id: TenantDep, ctx: CtxDep) -> MessageOut:
    async with ctx.sessions() as session:
        row = await session.get(OutboundMessage, message_id)
    if row is None or row.tenant_id != tenant_id:
        raise HTTPException(404, f"unknown message '{message_id}'")
    return await _view(ctx, message_id)


# --- the simulated handset ----------------------------------------------------------------------

async def _simulated_tenant(ctx: Ctx, session, tenant_id: str) -> None:
    if not ctx.settings.simulator:
        raise HTTPException(404, "the simulated carrier is off")
    if not await store.tenant_exists(session, tenant_id):
        raise HTTPException(404, f"unknown tenant '{tenant_id[:64]}'")


@handset.get("/{tenant_id}/outbox", response_model=list[OutboxMessage], response_model_by_alias=True)
async def outbox(tenant_id: str, ctx: CtxDep, to: str | None = Query(None),
                 after: int = Query(0, ge=0, description="Only messages with a higher seq."),
                 limit: int = Query(1000, ge=1, le=10_000)) -> list[OutboxMessage]:
    """What the simulated carrier handed to phones, in seq order (the simulator is a test device).
    Walking it with `after=<the last seq seen>` sees every message once, however many sends run."""
    phone = _e164(to, "to") if to else None
    async with ctx.sessions() as session, session.begin():
        await _simulated_tenant(ctx, session, tenant_id)
        rows = await simulator.outbox(session, tenant_id, phone, after, limit)
    return [OutboxMessage(id=r.id, seq=r.seq, from_=r.from_number, to=r.to_number, body=r.body,
                          segments=r.segments, sent_at=r.sent_at) for r in rows]


@handset.get("/{tenant_id}/numbers/{phone}", response_model=HandsetOut)
async def get_handset(tenant_id: str, phone: str, ctx: CtxDep) -> HandsetOut:
    """The receipt the simulated carrier posts after each send to this phone."""
    phone = _e164(phone, "phone")
    async with ctx.sessions() as session:
        await _simulated_tenant(ctx, session, tenant_id)
        receipt, code = await simulator.outcome(session, tenant_id, phone)
    return HandsetOut(phone=phone, receipt=receipt, error_code=code)


@handset.put("/{tenant_id}/numbers/{phone}", response_model=HandsetOut)
async def put_handset(tenant_id: str, phone: str, body: HandsetIn, ctx: CtxDep) -> HandsetOut:
    """Set the receipt for this phone's next sends: delivered (the default), undelivered or failed
    (with an optional error code), or none."""
    phone = _e164(phone, "phone")
    async with ctx.sessions() as session, session.begin():
        await _simulated_tenant(ctx, session, tenant_id)
        await simulator.set_outcome(session, tenant_id, phone, body.receipt, body.error_code, ctx.clock())
    return HandsetOut(phone=phone, receipt=body.receipt, error_code=body.error_code)
