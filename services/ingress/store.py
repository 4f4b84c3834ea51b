"""Ingress queries. Reads tenants, their credentials, their sending numbers and tracked links;
writes only its dedup keys and the parts of concatenated messages. No decisions here."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.ingress import InboundDedup, InboundPart
from libs.common.db.models.sender import Link, SendingNumber
from libs.common.db.models.tenancy import CarrierCredential, Tenant
from libs.common.db.session import upsert_insert
from libs.common.secrets import CredentialBox
from services.ingress import dedup

DedupKey = tuple[str, str, str]  # tenant_id, carrier, dedup key
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


async def claim(session: AsyncSession, key: DedupKey, event_id: str, now: datetime) -> bool:
    """Claim `key` as pending; False if a row already holds it (in any state). On PostgreSQL a
    copy racing an uncommitted claim of the same key waits for that transaction (a short one),
    then finds its row."""
    tenant_id, carrier, message_id = key
    stmt = upsert_insert(session)(InboundDedup).values(
        tenant_id=tenant_id, carrier=carrier, carrier_message_id=message_id, event_id=event_id,
        received_at=now, state=dedup.PENDING, claim_epoch=0).on_conflict_do_nothing()
    return (await session.execute(stmt)).rowcount == 1


async def dedup_row(session: AsyncSession, key: DedupKey) -> InboundDedup | None:
    return (await session.scalars(select(InboundDedup).where(_dedup_filter(key))
                                  .execution_options(populate_existing=True))).first()


async def take_over(session: AsyncSession, key: DedupKey, epoch: int, now: datetime) -> bool:
    """Compare-and-set: claim a pending or failed key whose claim is still `epoch`; False if
    another attempt took it over or it was accepted meanwhile."""
    result = await session.execute(
        update(InboundDedup.__table__)
        .where(_dedup_filter(key), InboundDedup.state != dedup.ACCEPTED,
               InboundDedup.claim_epoch == epoch)
        .values(state=dedup.PENDING, claim_epoch=epoch + 1, received_at=now))
    return result.rowcount == 1


async def mark_accepted(session: AsyncSession, keys: Sequence[DedupKey]) -> None:
    """The bus has these keys' events: accepted, whoever holds the claim now."""
    if keys:
        await session.execute(update(InboundDedup.__table__)
                              .where(_dedup_keys(keys)).values(state=dedup.ACCEPTED))


async def mark_failed(session: AsyncSession, claims: Sequence[tuple[DedupKey, int]]) -> None:
    """These claims' publish failed: a retry may take them over at once. Only claims still held
    (pending at that epoch) change, so a slow attempt cannot undo a take-over's outcome."""
    for key, epoch in claims:
        await session.execute(update(InboundDedup.__table__)
                              .where(_dedup_filter(key), InboundDedup.state == dedup.PENDING,
                                     InboundDedup.claim_epoch == epoch)
                              .values(state=dedup.FAILED))


def _dedup_filter(key: DedupKey):
    return tuple_(InboundDedup.tenant_id, InboundDedup.carrier,
                  InboundDedup.carrier_message_id) == key


def _dedup_keys(keys: Sequence[DedupKey]):
    return tuple_(InboundDedup.tenant_id, InboundDedup.carrier,
                  InboundDedup.carrier_message_id).in_(list(keys))


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
                                 .order_by(InboundPart.part)
                                 .execution_options(populate_existing=True))
    return list(rows)


async def close_group(session: AsyncSession, group: GroupKey, ref: str, now: datetime) -> None:
    """Move a group's parts under another reference (a closed group), waiting from `now`."""
    await session.execute(update(InboundPart.__table__).where(_group_filter(group))
                          .values(ref=ref, received_at=now))


async def drop_parts(session: AsyncSession, group: GroupKey) -> None:
    await session.execute(delete(InboundPart).where(_group_filter(group)))


async def stale_groups(session: AsyncSession, before: datetime, limit: int = 100) -> list[GroupKey]:
    columns = (InboundPart.tenant_id, InboundPart.carrier, InboundPart.phone,
               InboundPart.to_number, InboundPart.ref)
    rows = await session.execute(select(*columns).group_by(*columns)
                                 .having(func.min(InboundPart.received_at) < before).limit(limit))
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def add_part(session: AsyncSession, row: InboundPart) -> None:
    """Insert a part (a statement, not the unit of work: a closed group may have just taken the
    primary key the part had in the session)."""
    await session.execute(insert(InboundPart.__table__).values(
        {column.key: getattr(row, column.key) for column in InboundPart.__table__.columns}))


async def link(session: AsyncSession, code: str) -> Link | None:
    return await session.get(Link, code)


async def dedup_keys(session: AsyncSession, tenant_id: str, carrier: str) -> Sequence[str]:
    """Every key remembered for a tenant and carrier (tests and diagnostics)."""
    rows = await session.scalars(select(InboundDedup.carrier_message_id)
                                 .where(InboundDedup.tenant_id == tenant_id,
                                        InboundDedup.carrier == carrier))
    return list(rows)
