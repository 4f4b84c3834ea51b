"""Ingress HTTP: carrier webhooks under /webhooks and tracked links under /l. Both are public
contracts: carriers are configured with the webhook URLs and phones hold the link URLs."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response

from libs.common.service import CtxDep
from services.ingress import links as tracked_links
from services.ingress import webhooks as carrier_webhooks

webhooks = APIRouter(prefix="/webhooks", tags=["webhooks"])
links = APIRouter(prefix="/l", tags=["links"])

Kind = Literal["inbound", "status"]


# GET too: Vonage and Plivo can be set to call with a query string instead of a form post.
@webhooks.api_route("/{carrier}/{tenant_id}/{kind}", methods=["POST", "GET"])
async def webhook(carrier: str, tenant_id: str, kind: Kind, request: Request,
                  ctx: CtxDep) -> Response:
    """A subscriber's message (`inbound`) or a delivery receipt (`status`) from a carrier."""
    return await carrier_webhooks.handle(ctx, carrier, tenant_id, kind, request)


@links.api_route("/{code}", methods=["GET", "HEAD"])
async def follow(code: str, request: Request, ctx: CtxDep) -> Response:
    """Redirect to the link's target and record the click (previews are flagged as bots)."""
    return await tracked_links.follow(ctx, code, request.method, request.headers.get("user-agent"))
