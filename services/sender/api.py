"""Sender HTTP: /v1/numbers, /v1/messages, and the simulated carrier's handset (/simulator)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from libs.common.auth import TenantDep
from libs.common.db.models.sender import OutboundMessage, SendingNumber
from libs.common.phone import InvalidPhone, to_e164
from libs.common.service import CtxDep
from services.sender import store
from services.sender.carriers.simulator import client as simulator
from services.sender.schemas import MessageOut, NumberIn, NumberOut, OutboxMessage

numbers = APIRouter(prefix="/v1/numbers", tags=["numbers"])
messages = APIRouter(prefix="/v1/messages", tags=["messages"])
handset = APIRouter(prefix="/simulator", tags=["simulator"])


def _e164(raw: str, field: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise HTTPException(422, f"{field}: {exc}") from exc


@numbers.post("", status_code=201, response_model=NumberOut)
async def register_number(body: NumberIn, tenant_id: TenantDep, ctx: CtxDep) -> SendingNumber:
    number = _e164(body.number, "number")
    async with ctx.sessions() as session, session.begin():
        if await session.get(SendingNumber, (tenant_id, number)):
            raise HTTPException(409, f"{number} is already registered")
        row = SendingNumber(tenant_id=tenant_id, number=number, carrier=body.carrier,
                            number_type=body.number_type, is_default=body.is_default,
                            created_at=ctx.clock())
        session.add(row)
    return row


@numbers.get("", response_model=list[NumberOut])
async def list_numbers(tenant_id: TenantDep, ctx: CtxDep) -> list[SendingNumber]:
    async with ctx.sessions() as session:
        return await store.numbers(session, tenant_id)


@messages.get("/{message_id}", response_model=MessageOut)
async def get_message(message_id: str, tenant_id: TenantDep, ctx: CtxDep) -> OutboundMessage:
    async with ctx.sessions() as session:
        row = await session.get(OutboundMessage, message_id)
    if row is None or row.tenant_id != tenant_id:
        raise HTTPException(404, f"unknown message '{message_id}'")
    return row


@handset.get("/{tenant_id}/outbox", response_model=list[OutboxMessage], response_model_by_alias=True)
async def outbox(tenant_id: str, ctx: CtxDep, to: str | None = Query(None),
                 after: int = Query(0, ge=0)) -> list[OutboxMessage]:
    """What the simulated carrier handed to phones, oldest first (the simulator is a test device)."""
    if not ctx.settings.simulator:
        raise HTTPException(404, "the simulated carrier is off")
    phone = _e164(to, "to") if to else None
    async with ctx.sessions() as session:
        rows = await simulator.outbox(session, tenant_id, phone, after)
    return [OutboxMessage(id=r.id, seq=r.seq, from_=r.from_number, to=r.to_number, body=r.body,
                          segments=r.segments, sent_at=r.sent_at) for r in rows]
