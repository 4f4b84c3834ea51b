"""The simulated carrier: "sending" writes the message to the simulated handset log.

The message id is the row's primary key, so sending the same message twice (a crash between
"recorded" and "sent", then a redelivery) stores it once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.sender import SimulatedMessage

NAME = "simulator"


async def send(session: AsyncSession, *, message_id: str, tenant_id: str, from_number: str,
               to: str, body: str, segments: int, now: datetime) -> str:
    """Deliver to the simulated phone; returns the carrier message id."""
    if await session.get(SimulatedMessage, message_id) is not None:
        return message_id
    seq = (await session.scalar(select(func.max(SimulatedMessage.seq)))) or 0
    session.add(SimulatedMessage(id=message_id, tenant_id=tenant_id, from_number=from_number,
                                 to_number=to, body=body, segments=segments, sent_at=now,
                                 seq=seq + 1))
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
    return message_id


async def outbox(session: AsyncSession, tenant_id: str, to: str | None,
                 after: int = 0) -> list[SimulatedMessage]:
    query = select(SimulatedMessage).where(SimulatedMessage.tenant_id == tenant_id,
                                           SimulatedMessage.seq > after)
    if to:
        query = query.where(SimulatedMessage.to_number == to)
    return list(await session.scalars(query.order_by(SimulatedMessage.seq)))
