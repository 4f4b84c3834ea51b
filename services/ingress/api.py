"""Ingress HTTP: carrier webhooks under /webhooks (public URLs carriers are configured with)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from libs.common.service import CtxDep
from services.ingress import webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post("/{carrier}/{tenant_id}/inbound")
async def inbound(carrier: str, tenant_id: str, request: Request, ctx: CtxDep) -> Response:
    return await webhooks.inbound(ctx, carrier, tenant_id, request)


@router.post("/{carrier}/{tenant_id}/status")
async def status(carrier: str, tenant_id: str, request: Request, ctx: CtxDep) -> Response:
    return await webhooks.status(ctx, carrier, tenant_id, request)
