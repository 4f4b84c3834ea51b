"""Who is calling: a tenant's API key, or the admin token. Shared by every service's `/v1` API.

`TenantDep` resolves `Authorization: Bearer <key>` (or `X-API-Key`) to the caller's tenant id;
every query a service makes is then filtered by that id, so one tenant's key never sees another
tenant's rows. A missing or unknown key is 401.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy import select

from libs.common.db.models.tenancy import ApiKey
from libs.common.secrets import hash_api_key


def _bearer(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def is_admin(request: Request, token: str | None) -> bool:
    admin = request.app.state.ctx.settings.admin_token
    return bool(admin and token and hmac.compare_digest(admin.get_secret_value(), token))


async def caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    """The caller's tenant id, or "*admin*" for the admin token."""
    token = _bearer(authorization, x_api_key)
    if not token:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if is_admin(request, token):
        return ADMIN
    async with request.app.state.ctx.sessions() as session:
        tenant_id = await session.scalar(
            select(ApiKey.tenant_id).where(ApiKey.key_hash == hash_api_key(token),
                                           ApiKey.revoked_at.is_(None))
        )
    if tenant_id is None:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
    return tenant_id


ADMIN = "*admin*"

CallerDep = Annotated[str, Depends(caller)]


async def tenant(who: CallerDep) -> str:
    """A tenant-scoped call: the admin token is not a tenant."""
    if who == ADMIN:
        raise HTTPException(403, "this call needs a tenant API key, not the admin token")
    return who


TenantDep = Annotated[str, Depends(tenant)]
