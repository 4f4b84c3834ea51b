"""Tenants, their API keys and carrier credentials (the router owns these tables)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.tenancy import ApiKey, CarrierCredential, Tenant
from libs.common.secrets import CredentialBox, hash_api_key, new_api_key

KNOWN_CARRIERS = ("twilio", "telnyx", "vonage", "plivo", "bandwidth", "generic", "simulator")


async def create(session: AsyncSession, tenant_id: str, name: str, brand: str | None,
                 help_text: str | None, now: datetime) -> tuple[Tenant, str]:
    tenant = Tenant(id=tenant_id, name=name, brand=brand or name, help_text=help_text,
                    created_at=now)
    session.add(tenant)
    await session.flush()
    key = await add_key(session, tenant_id, now)
    return tenant, key


async def add_key(session: AsyncSession, tenant_id: str, now: datetime,
                  key: str | None = None) -> str:
    key = key or new_api_key()
    session.add(ApiKey(id=uuid.uuid4().hex, tenant_id=tenant_id, key_hash=hash_api_key(key),
                       prefix=key[:8], created_at=now))
    await session.flush()
    return key


async def get(session: AsyncSession, tenant_id: str) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def list_all(session: AsyncSession) -> list[Tenant]:
    return list(await session.scalars(select(Tenant).order_by(Tenant.id)))


async def set_credentials(session: AsyncSession, box: CredentialBox, tenant_id: str,
                          carrier: str, values: dict[str, str], now: datetime) -> CarrierCredential:
    row = await session.get(CarrierCredential, (tenant_id, carrier))
    if row is None:
        row = CarrierCredential(tenant_id=tenant_id, carrier=carrier, encrypted=b"", updated_at=now)
        session.add(row)
    row.encrypted = box.seal(values)
    row.updated_at = now
    await session.flush()
    return row


async def credential_rows(session: AsyncSession, tenant_id: str) -> list[CarrierCredential]:
    return list(await session.scalars(
        select(CarrierCredential).where(CarrierCredential.tenant_id == tenant_id)
        .order_by(CarrierCredential.carrier)))
