"""Who is calling: a tenant's API key, or the admin token. Shared by every service's `/v1` API.

`TenantDep` resolves `Authorization: Bearer <key>` (or `X-API-Key`) to the caller's tenant id;
every query a service makes is then filtered by that id, so one tenant's key never sees another
tenant's rows. A missing, unknown or malformed key is 401. Both headers are declared as security
schemes, so the OpenAPI page has an Authorize button and generated clients send the key.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from libs.common.db.models.tenancy import ApiKey
from libs.common.secrets import hash_api_key

# auto_error=False: the answers (401, their messages) stay ours, not FastAPI's 403.
_BEARER = HTTPBearer(auto_error=False, description="A tenant's API key, or the admin token.")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="The same key in a header of its own.")


def is_admin(request: Request, token: str | None) -> bool:
    admin = request.app.state.ctx.settings.admin_token
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may carry any byte.
    return bool(admin and token and hmac.compare_digest(admin.get_secret_value().encode(),
                                                        token.encode()))


async def caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    x_api_key: Annotated[str | None, Depends(_API_KEY)],
) -> str:
    """The caller's tenant id, or "*admin*" for the admin token."""
    token = (x_api_key or (bearer.credentials if bearer else "")).strip()
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
