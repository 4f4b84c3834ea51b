"""The simulated carrier: "sending" writes the message to the simulated handset log; a delivery
receipt follows (`receipts.py`), as the phone's outcome (`simulated_handset`) says.

A message is stored once however often it is sent (its id is a unique key: a crash between
"recorded" and "sent", then a redelivery). Its `seq` comes from the database.

Reading the log with `?after=<last seq seen>` never skips a message. On PostgreSQL a send that drew
a lower seq may commit after one that drew a higher, and a reader that saw the higher would skip
the lower for good. So each send holds a shared per-tenant advisory lock for its transaction, and
a reader takes that lock exclusively before it reads: it waits for the tenant's sends in flight to
commit, and sends that start later draw higher numbers. Sends never wait for each other, only for
a reader's short read. SQLite has one writer at a time, so there commit order is seq order already.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from sqlalchemy import select, text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.sender import SimulatedHandset, SimulatedMessage
from libs.common.db.session import upsert_insert

NAME = "simulator"
RECEIPTS = ("delivered", "undelivered", "failed", "none")
DEFAULT_RECEIPT = "delivered"
_LOCK_CLASS = 0x73696D  # "sim": the first key of the two-key advisory lock space


def _lock_key(tenant_id: str) -> int:
    """The tenant's second advisory lock key (a signed 32-bit integer); a collision only makes two
    tenants' readers and sends wait for each other."""
    crc = zlib.crc32(tenant_id.encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


async def _lock(session: AsyncSession, tenant_id: str, *, shared: bool) -> None:
    if session.bind.dialect.name != "postgresql":
        return
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await session.execute(text(f"SELECT {fn}(:c, :k)"), {"c": _LOCK_CLASS, "k": _lock_key(tenant_id)})


async def send(session: AsyncSession, *, message_id: str, tenant_id: str, from_number: str,
               to: str, body: str, segments: int, now: datetime) -> str:
    """Deliver to the simulated phone, in the caller's transaction; returns the carrier message id."""
    stored = await session.scalar(select(SimulatedMessage.seq).where(SimulatedMessage.id == message_id))
    if stored is not None:
        return message_id
    await _lock(session, tenant_id, shared=True)
    session.add(SimulatedMessage(id=message_id, tenant_id=tenant_id, from_number=from_number,
                                 to_number=to, body=body, segments=segments, sent_at=now))
    try:
        await session.flush()
    except IntegrityError:  # the same message, sent by a concurrent worker
        await session.rollback()
    return message_id


async def outbox(session: AsyncSession, tenant_id: str, to: str | None, after: int = 0,
                 limit: int = 1000) -> list[SimulatedMessage]:
    """The tenant's log after `after`, in seq order; call it inside a transaction (the lock)."""
    await _lock(session, tenant_id, shared=False)
    query = select(SimulatedMessage).where(SimulatedMessage.tenant_id == tenant_id,
                                           SimulatedMessage.seq > after)
    if to:
        query = query.where(SimulatedMessage.to_number == to)
    return list(await session.scalars(query.order_by(SimulatedMessage.seq).limit(limit)))


# --- the handsets' outcomes ---------------------------------------------------------------------

async def outcome(session: AsyncSession, tenant_id: str, phone: str) -> tuple[str, str | None]:
    row = await session.get(SimulatedHandset, (tenant_id, phone))
    return (row.receipt, row.error_code) if row else (DEFAULT_RECEIPT, None)


async def set_outcome(session: AsyncSession, tenant_id: str, phone: str, receipt: str,
                      error_code: str | None, now: datetime) -> None:
    values = dict(receipt=receipt, error_code=error_code, updated_at=now)
    stmt = upsert_insert(session)(SimulatedHandset).values(tenant_id=tenant_id, phone=phone, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["tenant_id", "phone"], set_=values))


async def outcomes(session: AsyncSession,
                   wanted: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """The outcome set for each wanted (tenant, phone); phones left at the default are absent."""
    if not wanted:
        return {}
    rows = await session.scalars(select(SimulatedHandset).where(
        tuple_(SimulatedHandset.tenant_id, SimulatedHandset.phone).in_(sorted(wanted))))
    return {(r.tenant_id, r.phone): (r.receipt, r.error_code) for r in rows}
