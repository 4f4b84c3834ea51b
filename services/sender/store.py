"""Sender queries: sending numbers and outbound messages. Makes no decisions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.router import Consent
from libs.common.db.models.sender import OutboundMessage, SendingNumber


async def message_for_action(session: AsyncSession, action_id: str) -> OutboundMessage | None:
    return await session.scalar(select(OutboundMessage).where(OutboundMessage.action_id == action_id))


async def sending_number(session: AsyncSession, tenant_id: str,
                         number: str | None) -> SendingNumber | None:
    query = select(SendingNumber).where(SendingNumber.tenant_id == tenant_id)
    if number:
        query = query.where(SendingNumber.number == number)
    else:
        query = query.order_by(SendingNumber.is_default.desc(), SendingNumber.created_at)
    return await session.scalar(query.limit(1))


async def numbers(session: AsyncSession, tenant_id: str) -> list[SendingNumber]:
    return list(await session.scalars(
        select(SendingNumber).where(SendingNumber.tenant_id == tenant_id)
        .order_by(SendingNumber.number)))


async def opted_out(session: AsyncSession, tenant_id: str, phone: str) -> bool:
    """Read right before each send (the router owns consent): a STOP processed after a message
    was queued still stops it."""
    status = await session.scalar(select(Consent.status).where(
        Consent.tenant_id == tenant_id, Consent.phone == phone, Consent.status == "opted_out").limit(1))
    return status is not None
