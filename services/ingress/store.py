"""Ingress queries. Reads tenants, their credentials, their sending numbers and tracked links;
writes only its dedup keys and the parts of concatenated messages. No decisions here."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.ingress import InboundDedup, InboundPart
from libs.common.db.models.sender import Link, SendingNumber
from libs.common.db.models.tenancy import CarrierCredential, Tenant
from libs.common.secrets import CredentialBox

GroupKey = tuple[str, str, str, str, str]  # tenant_id, carrier, phone, to_number, ref


async def tenant_credentials(session: AsyncSession, box: CredentialBox, tenant_id: str,
                             carrier: str) -> tuple[bool, dict[str, str] | None]:
    """(the tenant exists, its decrypted credentials for `carrier` or None). One query: this runs
    on every webhook."""
    row = (await session.execute(
        select(Tenant.id, CarrierCredential.encrypted)
        .outerjoin(CarrierCredential, and_(CarrierCredential.tenant_id == Tenant.id,
                                           CarrierCredential.carrier == carrier))
        .where(Tenant.id == tenant_id)
    )).first()
    if row is None:
        return False, None
    return True, None if row.encrypted is None else box.open(row.encrypted)


async def number_owner(session: AsyncSession, number: str) -> str | None:
    """The tenant that registered `number` (at most one: a unique constraint)."""
    return await session.scalar(select(SendingNumber.tenant_id).where(SendingNumber.number == number))


async def claim(session: AsyncSession, tenant_id: str, carrier: str, key: str, event_id: str,
                now: datetime) -> None:
    """Remember `key` as accepted; raises IntegrityError if it already was. It is the first write
    of its transaction, so concurrent retries of one message queue on it (PostgreSQL waits on the
    key, SQLite on its write lock) instead of both reading "not seen yet"."""
    await session.execute(insert(InboundDedup).values(
        tenant_id=tenant_id, carrier=carrier, carrier_message_id=key, event_id=event_id,
        received_at=now))


async def seen(session: AsyncSession, tenant_id: str, carrier: str, key: str) -> bool:
    return await session.get(InboundDedup, (tenant_id, carrier, key)) is not None


async def lock_group(session: AsyncSession, group: GroupKey) -> None:
    """Serialise work on one concatenated message until the transaction ends. PostgreSQL: an
    advisory lock; SQLite already runs one writer at a time."""
    if session.bind.dialect.name != "postgresql":
        return
    lock_id = int.from_bytes(hashlib.sha256("\x1f".join(group).encode()).digest()[:8], "big",
                             signed=True)
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def _group_filter(group: GroupKey):
    return tuple_(InboundPart.tenant_id, InboundPart.carrier, InboundPart.phone,
                  InboundPart.to_number, InboundPart.ref) == group


async def parts(session: AsyncSession, group: GroupKey) -> list[InboundPart]:
    rows = await session.scalars(select(InboundPart).where(_group_filter(group))
                                 .order_by(InboundPart.part))
    return list(rows)


async def drop_parts(session: AsyncSession, group: GroupKey) -> None:
    await session.execute(delete(InboundPart).where(_group_filter(group)))


async def stale_groups(session: AsyncSession, before: datetime, limit: int = 100) -> list[GroupKey]:
    columns = (InboundPart.tenant_id, InboundPart.carrier, InboundPart.phone,
               InboundPart.to_number, InboundPart.ref)
    rows = await session.execute(select(*columns).group_by(*columns)
                                 .having(func.min(InboundPart.received_at) < before).limit(limit))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def add_part(session: AsyncSession, row: InboundPart) -> None:
    session.add(row)


async def link(session: AsyncSession, code: str) -> Link | None:
    return await session.get(Link, code)


async def dedup_keys(session: AsyncSession, tenant_id: str, carrier: str) -> Sequence[str]:
    """Every key remembered for a tenant and carrier (tests and diagnostics)."""
    rows = await session.scalars(select(InboundDedup.carrier_message_id)
                                 .where(InboundDedup.tenant_id == tenant_id,
                                        InboundDedup.carrier == carrier))
    return list(rows)
