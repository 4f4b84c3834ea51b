"""Router HTTP: /v1/tenants. The admin token creates tenants; a tenant's key sees only itself."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from libs.common.auth import ADMIN, CallerDep
from libs.common.secrets import CredentialBox
from libs.common.service import CtxDep
from services.router import rules_cache, tenants
from services.router.schemas import (
    ApiKeyCreated,
    CredentialsIn,
    CredentialsOut,
    TenantCreated,
    TenantIn,
    TenantOut,
    TenantPatch,
)

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


def _may_see(who: str, tenant_id: str) -> None:
    # 404, not 403, for another tenant: a key learns nothing about tenants it does not own.
    if who != ADMIN and who != tenant_id:
        raise HTTPException(404, f"unknown tenant '{tenant_id}'")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantCreated)
async def create_tenant(body: TenantIn, who: CallerDep, ctx: CtxDep) -> TenantCreated:
    if who != ADMIN:
        raise HTTPException(403, "only the admin token may create tenants")
    async with ctx.sessions() as session, session.begin():
        if await tenants.get(session, body.id):
            raise HTTPException(409, f"tenant '{body.id}' exists")
        tenant, key = await tenants.create(session, body.id, body.name, body.brand,
                                           body.help_text, ctx.clock())
    return TenantCreated(**TenantOut.model_validate(tenant, from_attributes=True).model_dump(),
                         api_key=key)


@router.get("", response_model=list[TenantOut])
async def list_tenants(who: CallerDep, ctx: CtxDep) -> list:
    async with ctx.sessions() as session:
        if who == ADMIN:
            return await tenants.list_all(session)
        return [await tenants.get(session, who)]


@router.get("/{tenant_id}", response_model=TenantOut)
async def get_tenant(tenant_id: str, who: CallerDep, ctx: CtxDep):
    _may_see(who, tenant_id)
    async with ctx.sessions() as session:
        tenant = await tenants.get(session, tenant_id)
    if tenant is None:
        raise HTTPException(404, f"unknown tenant '{tenant_id}'")
    return tenant


@router.patch("/{tenant_id}", response_model=TenantOut)
async def update_tenant(tenant_id: str, body: TenantPatch, who: CallerDep, ctx: CtxDep):
    _may_see(who, tenant_id)
    async with ctx.sessions() as session, session.begin():
        tenant = await tenants.get(session, tenant_id)
        if tenant is None:
            raise HTTPException(404, f"unknown tenant '{tenant_id}'")
        for field, value in body.model_dump(exclude_unset=True).items():
            if value is None and field in ("name", "brand", "fallback_to_agent"):
                raise HTTPException(422, f"{field} cannot be null")
            setattr(tenant, field, value)
    rules_cache.invalidate(ctx, tenant_id)
    return tenant


@router.post("/{tenant_id}/api-keys", status_code=201, response_model=ApiKeyCreated)
async def new_key(tenant_id: str, who: CallerDep, ctx: CtxDep) -> ApiKeyCreated:
    _may_see(who, tenant_id)
    async with ctx.sessions() as session, session.begin():
        if await tenants.get(session, tenant_id) is None:
            raise HTTPException(404, f"unknown tenant '{tenant_id}'")
        key = await tenants.add_key(session, tenant_id, ctx.clock())
    return ApiKeyCreated(id=key[:8], api_key=key)


@router.put("/{tenant_id}/credentials/{carrier}", response_model=CredentialsOut)
async def put_credentials(tenant_id: str, carrier: str, body: CredentialsIn, who: CallerDep,
                          ctx: CtxDep) -> CredentialsOut:
    _may_see(who, tenant_id)
    if carrier not in tenants.KNOWN_CARRIERS:
        raise HTTPException(422, f"unknown carrier '{carrier}'; one of {tenants.KNOWN_CARRIERS}")
    box = CredentialBox(ctx.settings.secret_key.get_secret_value())
    async with ctx.sessions() as session, session.begin():
        if await tenants.get(session, tenant_id) is None:
            raise HTTPException(404, f"unknown tenant '{tenant_id}'")
        row = await tenants.set_credentials(session, box, tenant_id, carrier, body.values,
                                            ctx.clock())
    return CredentialsOut(carrier=carrier, fields=sorted(body.values), updated_at=row.updated_at)


@router.get("/{tenant_id}/credentials", response_model=list[CredentialsOut])
async def list_credentials(tenant_id: str, who: CallerDep, ctx: CtxDep) -> list[CredentialsOut]:
    _may_see(who, tenant_id)
    box = CredentialBox(ctx.settings.secret_key.get_secret_value())
    async with ctx.sessions() as session:
        rows = await tenants.credential_rows(session, tenant_id)
    return [CredentialsOut(carrier=r.carrier, fields=sorted(box.open(r.encrypted)),
                           updated_at=r.updated_at) for r in rows]
