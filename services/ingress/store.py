"""Ingress queries. Reads tenants and their credentials; writes only its dedup keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.ingress import InboundDedup
from libs.common.db.models.tenancy import CarrierCredential, Tenant
from libs.common.secrets import CredentialBox


async def tenant_exists(session: AsyncSession, tenant_id: str) -> bool:
    return await session.scalar(select(Tenant.id).where(Tenant.id == tenant_id)) is not None


async def credentials(session: AsyncSession, box: CredentialBox, tenant_id: str,
                      carrier: str) -> dict[str, str] | None:
    blob = await session.scalar(
        select(CarrierCredential.encrypted).where(CarrierCredential.tenant_id == tenant_id,
                                                  CarrierCredential.carrier == carrier)
    )
    return None if blob is None else box.open(blob)


async def already_accepted(session: AsyncSession, tenant_id: str, carrier: str,
                           carrier_message_id: str) -> bool:
    return await session.get(InboundDedup, (tenant_id, carrier, carrier_message_id)) is not None


def remember(session: AsyncSession, tenant_id: str, carrier: str, carrier_message_id: str,
             event_id: str, now: datetime) -> None:
    session.add(InboundDedup(tenant_id=tenant_id, carrier=carrier,
                             carrier_message_id=carrier_message_id, event_id=event_id,
                             received_at=now))
