"""The one generic webhook route: tenant → verify → parse → dedup → publish → ack.

Durable before 200: the dedup key is inserted and the event published inside one transaction that
commits only after the bus took the event, so a broker or database outage answers 503 (the carrier
retries) and a retry of an accepted message answers 200 and publishes nothing. Two identical
retries racing each other collide on the dedup key's primary key: one publishes, the other is told
200 as a duplicate.
"""

from __future__ import annotations

import time

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from libs.common.events.sms_inbound import InboundSms
from libs.common.events.sms_status import StatusUpdate
from libs.common.observability import WEBHOOK_SECONDS, WEBHOOKS
from libs.common.phone import InvalidPhone, is_short_code, mask, to_e164
from libs.common.secrets import CredentialBox
from libs.common.service import Ctx
from services.ingress import store
from services.ingress.carriers import ADAPTERS
from services.ingress.carriers.base import Adapter, BadRequest, RawRequest

log = structlog.get_logger("parley.ingress")

MAX_BODY = 64 * 1024


def _refuse(carrier: str, kind: str, status: int, reason: str) -> JSONResponse:
    WEBHOOKS.labels(carrier=carrier, kind=kind, outcome=f"refused_{status}").inc()
    log.info("webhook_refused", carrier=carrier, kind=kind, status=status, reason=reason)
    return JSONResponse({"detail": reason}, status_code=status)


async def raw_request(request: Request) -> RawRequest:
    body = await request.body()
    return RawRequest(request.method, str(request.url), {k.lower(): v for k, v in
                      request.headers.items()}, body, dict(request.query_params))


async def _admit(ctx: Ctx, carrier: str, tenant_id: str, kind: str,
                 request: Request) -> tuple[Adapter, RawRequest] | JSONResponse:
    adapter = ADAPTERS.get(carrier)
    if adapter is None or (carrier == "simulator" and not ctx.settings.simulator):
        return _refuse(carrier, kind, 404, f"unknown carrier '{carrier}'")
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        return _refuse(carrier, kind, 413, "body over 64 KiB")
    req = await raw_request(request)
    if len(req.body) > MAX_BODY:
        return _refuse(carrier, kind, 413, "body over 64 KiB")
    async with ctx.sessions() as session:
        if not await store.tenant_exists(session, tenant_id):
            return _refuse(carrier, kind, 404, f"unknown tenant '{tenant_id}'")
        creds = await store.credentials(session, CredentialBox(
            ctx.settings.secret_key.get_secret_value()), tenant_id, carrier)
    if adapter.needs_credentials and creds is None:
        return _refuse(carrier, kind, 403, f"tenant has no {carrier} credentials")
    if not adapter.verify(req, creds):
        return _refuse(carrier, kind, 403, "signature does not verify")
    return adapter, req


def _number(raw: str, field: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise BadRequest(f"'{field}': {exc}", 422) from exc


async def inbound(ctx: Ctx, carrier: str, tenant_id: str, request: Request) -> Response:
    started = time.perf_counter()
    admitted = await _admit(ctx, carrier, tenant_id, "inbound", request)
    if isinstance(admitted, JSONResponse):
        return admitted
    adapter, req = admitted
    try:
        parsed = adapter.parse_inbound(req)
        phone = _number(parsed.phone, "from")
        if is_short_code(phone):
            raise BadRequest("'from' must be a subscriber's number, not a short code", 422)
        to = _number(parsed.to, "to")
    except BadRequest as exc:
        return _refuse(carrier, "inbound", exc.status, exc.reason)
    event = InboundSms(tenant_id=tenant_id, phone=phone, to=to, body=parsed.body,
                       carrier=carrier, carrier_message_id=parsed.carrier_message_id,
                       media_urls=list(parsed.media_urls), received_at=ctx.clock(),
                       carrier_opt_out_hint=parsed.opt_out_hint)
    outcome = "accepted"
    try:
        async with ctx.sessions() as session, session.begin():
            if await store.already_accepted(session, tenant_id, carrier, event.carrier_message_id):
                outcome = "duplicate"
            else:
                store.remember(session, tenant_id, carrier, event.carrier_message_id,
                               event.event_id, event.received_at)
                await session.flush()
                await ctx.bus.emit(event)
    except IntegrityError:
        outcome = "duplicate"  # an identical retry won the race
    WEBHOOKS.labels(carrier=carrier, kind="inbound", outcome=outcome).inc()
    WEBHOOK_SECONDS.labels(carrier=carrier).observe(time.perf_counter() - started)
    log.info("inbound_" + outcome, tenant=tenant_id, carrier=carrier, phone=mask(phone),
             carrier_message_id=event.carrier_message_id)
    body, media_type = adapter.ack()
    return Response(body, media_type=media_type)


async def status(ctx: Ctx, carrier: str, tenant_id: str, request: Request) -> Response:
    admitted = await _admit(ctx, carrier, tenant_id, "status", request)
    if isinstance(admitted, JSONResponse):
        return admitted
    adapter, req = admitted
    try:
        parsed = adapter.parse_status(req)
        phone = _number(parsed.phone, "to")
    except BadRequest as exc:
        return _refuse(carrier, "status", exc.status, exc.reason)
    await ctx.bus.emit(StatusUpdate(tenant_id=tenant_id, phone=phone, carrier=carrier,
                                    carrier_message_id=parsed.carrier_message_id,
                                    status=parsed.status, error_code=parsed.error_code))
    WEBHOOKS.labels(carrier=carrier, kind="status", outcome="accepted").inc()
    body, media_type = adapter.ack()
    return Response(body, media_type=media_type)
