"""The one generic webhook route: adapter → tenant and credentials → intake (verify, parse,
normalise) → dedup → publish → the carrier's ack.

Durable before 2xx: each event's dedup key is inserted and the event published inside one
transaction that commits only after the bus took the event (Kafka: acked by all in-sync replicas).
A broker or database outage answers 503 with Retry-After, so the carrier retries; the key was not
committed, so the retry is accepted. A retry of an accepted message answers 2xx and publishes
nothing; two copies racing each other queue on the key and the second is told it is a duplicate.
A message to a number another tenant registered is acknowledged like any other (a 4xx would make
some carriers retry it for hours) and published nowhere (`foreign_number`): it is not this
tenant's to route. Every outcome is one log line and one `parley_webhooks_total{outcome}` count
(refusals as `refused_<code>`), and the time to answer lands in `parley_webhook_seconds`.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.requests import ClientDisconnect

from libs.common.bus import BusUnavailable
from libs.common.config import Settings
from libs.common.events.sms_inbound import InboundSms
from libs.common.observability import WEBHOOK_SECONDS, WEBHOOKS
from libs.common.phone import mask
from libs.common.service import Ctx
from services.ingress import concat, credentials, numbers, store
from services.ingress.carriers import ADAPTERS
from services.ingress.carriers.base import Adapter, Credentials, Forbidden, RawRequest, Refused
from services.ingress.intake import Accept, Intake, intake

log = structlog.get_logger("parley.ingress")

MAX_BODY = 64 * 1024
RETRY_AFTER_S = "5"


class _Seen(Exception):
    """The previous content window already had this message."""


class _Undecryptable(Exception):
    """Credentials sealed under another PARLEY_SECRET_KEY: a server fault, so 503 until fixed."""


def public_url(request: Request, settings: Settings) -> str:
    """The URL the carrier called, which is what it signed: PARLEY_PUBLIC_BASE_URL when set, else
    what a proxy reports in X-Forwarded-Proto/-Host/-Port, else the request's own URL."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + path
    headers = request.headers
    proto = (headers.get("x-forwarded-proto") or request.url.scheme).split(",")[0].strip()
    host = (headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc)
    host = host.split(",")[0].strip()
    port = (headers.get("x-forwarded-port") or "").split(",")[0].strip()
    if port and not urlsplit(f"//{host}").port and port != {"https": "443", "http": "80"}.get(proto):
        host = f"{host}:{port}"
    return f"{proto}://{host}{path}"


def _adapter(ctx: Ctx, carrier: str, method: str) -> Adapter:
    adapter = ADAPTERS.get(carrier)
    if adapter is None or (carrier == "simulator" and not ctx.settings.simulator):
        raise Refused(f"unknown carrier '{carrier[:40]}'", 404, "unknown_carrier")
    if method not in adapter.methods:
        raise Refused(f"{carrier} webhooks use {'/'.join(sorted(adapter.methods))}", 405, "method",
                      {"Allow": ", ".join(sorted(adapter.methods))})
    return adapter


async def _read(request: Request, settings: Settings) -> RawRequest:
    too_large = Refused("body over 64 KiB", 413, "too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise too_large
    except ClientDisconnect as exc:
        raise Refused("the carrier went away before sending the whole body", 400, "malformed") from exc
    headers = {name.lower(): value for name, value in request.headers.items()}
    return RawRequest(request.method, public_url(request, settings), headers, bytes(body),
                      dict(request.query_params))


async def _credentials(ctx: Ctx, adapter: Adapter, tenant_id: str,
                       fresh: bool = False) -> tuple[Credentials, bool]:
    """The tenant's credentials for the adapter's carrier and whether they came from memory."""
    try:
        found, creds, cached = await credentials.cache(ctx).get(ctx, tenant_id, adapter.name,
                                                                fresh=fresh)
    except ValueError as exc:
        raise _Undecryptable(str(exc)) from exc
    if not found:
        raise Refused(f"unknown tenant '{tenant_id[:64]}'", 404, "unknown_tenant")
    if creds is None and adapter.needs_credentials:
        raise Forbidden(f"the tenant has not configured {adapter.name} credentials", "no_credentials")
    return creds or {}, cached


async def _intake(ctx: Ctx, adapter: Adapter, kind: str, req: RawRequest, tenant_id: str) -> Intake:
    creds, cached = await _credentials(ctx, adapter, tenant_id)
    try:
        return intake(adapter, kind, req, creds, tenant_id=tenant_id, now=ctx.clock())
    except Forbidden:
        if not cached:
            raise
    # Kept credentials may have just been replaced: check once more against the stored ones.
    creds, _ = await _credentials(ctx, adapter, tenant_id, fresh=True)
    return intake(adapter, kind, req, creds, tenant_id=tenant_id, now=ctx.clock())


async def _own(ctx: Ctx, tenant_id: str, accepted: list[Accept]) -> tuple[list[Accept], list[Accept]]:
    """(messages this tenant may route, messages to a number another tenant owns)."""
    mine, foreign = [], []
    for accept in accepted:
        event = accept.event  # receipts name no number of ours, only messages do
        is_foreign = isinstance(event, InboundSms) and await numbers.owners(ctx).is_foreign(
            ctx, tenant_id, event.to)
        (foreign if is_foreign else mine).append(accept)
    return mine, foreign


async def _deliver(ctx: Ctx, accept: Accept) -> str:
    """Publish one event unless its key was seen; 'accepted', 'duplicate' or 'part_stored'."""
    event, now = accept.event, ctx.clock()
    try:
        async with ctx.sessions() as session, session.begin():
            await store.claim(session, event.tenant_id, event.carrier, accept.dedup_key,
                              event.event_id, now)
            if accept.previous_key and await store.seen(session, event.tenant_id, event.carrier,
                                                        accept.previous_key):
                raise _Seen
            whole = [event] if accept.concat is None else await concat.add(session, accept, now)
            for message in whole:
                await ctx.bus.emit(message)
            return "accepted" if whole else "part_stored"
    except (IntegrityError, _Seen):
        return "duplicate"


def _finish(carrier: str, kind: str, outcome: str, started: float) -> None:
    WEBHOOKS.labels(carrier=carrier, kind=kind, outcome=outcome).inc()
    WEBHOOK_SECONDS.labels(carrier=carrier).observe(time.perf_counter() - started)


def _refused(carrier: str, kind: str, tenant_id: str, exc: Refused, started: float) -> JSONResponse:
    _finish(carrier, kind, f"refused_{exc.code}", started)
    log.info("webhook_refused", carrier=carrier, kind=kind, tenant=tenant_id[:64], status=exc.status,
             code=exc.code, reason=exc.reason)
    return JSONResponse({"detail": exc.reason, "code": exc.code}, status_code=exc.status,
                        headers=exc.headers)


def _unavailable(carrier: str, kind: str, tenant_id: str, exc: Exception, started: float) -> JSONResponse:
    _finish(carrier, kind, "unavailable", started)
    log.error("webhook_unavailable", carrier=carrier, kind=kind, tenant=tenant_id[:64],
              error=type(exc).__name__, detail=str(exc)[:200])
    return JSONResponse({"detail": "event bus or database unavailable, retry later",
                         "code": "unavailable"}, status_code=503,
                        headers={"Retry-After": RETRY_AFTER_S})


async def handle(ctx: Ctx, carrier: str, tenant_id: str, kind: str, request: Request) -> Response:
    started = time.perf_counter()
    label = carrier if carrier in ADAPTERS else "unknown"  # bounded metric labels
    try:
        adapter = _adapter(ctx, carrier, request.method)
        req = await _read(request, ctx.settings)
        result = await _intake(ctx, adapter, kind, req, tenant_id)
        accepted, foreign = await _own(ctx, tenant_id, result.accepted)
        outcomes = [await _deliver(ctx, accept) for accept in accepted]
    except Refused as exc:
        return _refused(label, kind, tenant_id, exc, started)
    except (BusUnavailable, SQLAlchemyError, OSError, _Undecryptable) as exc:
        return _unavailable(label, kind, tenant_id, exc, started)
    for outcome, accept in zip(outcomes, accepted, strict=True):
        log.info(f"{kind}_{outcome}", tenant=tenant_id, carrier=carrier,
                 phone=mask(accept.event.phone), carrier_message_id=accept.event.carrier_message_id)
    for accept in foreign:
        log.warning(f"{kind}_foreign_number", tenant=tenant_id, carrier=carrier, to=accept.event.to,
                    phone=mask(accept.event.phone), carrier_message_id=accept.event.carrier_message_id,
                    reason="the number is registered to another tenant")
    for reason in result.ignored:
        log.info(f"{kind}_ignored", tenant=tenant_id, carrier=carrier, reason=reason)
    _finish(label, kind, _summary(outcomes, result.ignored, bool(foreign)), started)
    body, media_type = adapter.ack()
    return Response(body, media_type=media_type)


def _summary(outcomes: list[str], ignored: list[str], foreign: bool) -> str:
    if "accepted" in outcomes:
        return "accepted"
    if foreign and not outcomes:
        return "foreign_number"
    return outcomes[0] if outcomes else ("ignored" if ignored else "empty")
