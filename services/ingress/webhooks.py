"""The one generic webhook route: adapter → tenant and credentials → intake (verify, parse,
normalise) → dedup and publish (`delivery`, concurrent webhooks together: `group_commit`) →
the carrier's ack.

Durable before 2xx: each event's dedup key is claimed, the event published with no transaction
open, and the key marked accepted after the bus took the event (Kafka: acked by all in-sync
replicas); `services/ingress/delivery.py` has the phases and why a crash at any point loses
nothing. A retry of an accepted message answers 2xx and publishes nothing; a copy arriving while
another is being published answers 503 with Retry-After (`in_flight`) and its retry finds it
accepted. While the bus knows it has no broker (`bus.available()`: a publish failed or timed out
and nothing has succeeded since) a webhook is answered 503 with Retry-After at once, before its
body is read or a database connection taken, so an outage costs carriers a quick 503 to retry,
not a wait ending in their own timeout; the bus logs the change once, and each such answer is
counted (`parley_webhooks_unavailable_total{reason="bus_down"}`), not logged. A broker that
fails under a publish, or a database outage, also answers 503 with Retry-After, and the retry is
accepted. A message to a number another tenant registered is acknowledged like any other (a 4xx
would make some carriers retry it for hours) and published nowhere (`foreign_number`): it is not
this tenant's to route. Every other outcome is one log line and one
`parley_webhooks_total{outcome}` count (refusals as `refused_<code>`, every 503 as
`unavailable`), and the time to answer lands in `parley_webhook_seconds`.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect

from libs.common.bus import BusUnavailable
from libs.common.config import Settings
from libs.common.events.sms_inbound import InboundSms
from libs.common.observability import WEBHOOK_SECONDS, WEBHOOKS, WEBHOOKS_UNAVAILABLE
from libs.common.phone import mask
from libs.common.service import Ctx
from services.ingress import credentials, numbers
from services.ingress.carriers import ADAPTERS
from services.ingress.carriers.base import Adapter, Credentials, Forbidden, RawRequest, Refused
from services.ingress.group_commit import group_commit
from services.ingress.intake import Accept, Intake, intake

log = structlog.get_logger("parley.ingress")

MAX_BODY = 64 * 1024
# Vonage's first retry of a 5xx comes 5 s later too; by then a copy in flight has been accepted.
RETRY_AFTER_S = "5"


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


def _finish(carrier: str, kind: str, outcome: str, started: float) -> None:
    WEBHOOKS.labels(carrier=carrier, kind=kind, outcome=outcome).inc()
    WEBHOOK_SECONDS.labels(carrier=carrier).observe(time.perf_counter() - started)


def _refused(carrier: str, kind: str, tenant_id: str, exc: Refused, started: float) -> JSONResponse:
    _finish(carrier, kind, f"refused_{exc.code}", started)
    log.info("webhook_refused", carrier=carrier, kind=kind, tenant=tenant_id[:64], status=exc.status,
             code=exc.code, reason=exc.reason)
    return JSONResponse({"detail": exc.reason, "code": exc.code}, status_code=exc.status,
                        headers=exc.headers)


def _unavailable(carrier: str, kind: str, reason: str, started: float) -> JSONResponse:
    _finish(carrier, kind, "unavailable", started)
    WEBHOOKS_UNAVAILABLE.labels(reason=reason).inc()
    return JSONResponse({"detail": "event bus or database unavailable, retry later",
                         "code": "unavailable"}, status_code=503,
                        headers={"Retry-After": RETRY_AFTER_S})


def _failed(carrier: str, kind: str, tenant_id: str, exc: Exception, started: float) -> JSONResponse:
    reason = ("bus" if isinstance(exc, BusUnavailable) else
              "credentials" if isinstance(exc, _Undecryptable) else "database")
    log.error("webhook_unavailable", carrier=carrier, kind=kind, tenant=tenant_id[:64],
              reason=reason, error=type(exc).__name__, detail=str(exc)[:200])
    return _unavailable(carrier, kind, reason, started)


async def handle(ctx: Ctx, carrier: str, tenant_id: str, kind: str, request: Request) -> Response:
    started = time.perf_counter()
    label = carrier if carrier in ADAPTERS else "unknown"  # bounded metric labels
    try:
        adapter = _adapter(ctx, carrier, request.method)
        if not ctx.bus.available():
            return _unavailable(label, kind, "bus_down", started)
        req = await _read(request, ctx.settings)
        result = await _intake(ctx, adapter, kind, req, tenant_id)
        accepted, foreign = await _own(ctx, tenant_id, result.accepted)
        steps = await group_commit(ctx).deliver(accepted) if accepted else []
    except Refused as exc:
        return _refused(label, kind, tenant_id, exc, started)
    except (BusUnavailable, SQLAlchemyError, OSError, _Undecryptable) as exc:
        return _failed(label, kind, tenant_id, exc, started)
    for step in steps:
        event = step.accept.event
        log.info(f"{kind}_{step.outcome}", tenant=tenant_id, carrier=carrier,
                 phone=mask(event.phone), carrier_message_id=event.carrier_message_id)
    for accept in foreign:
        log.warning(f"{kind}_foreign_number", tenant=tenant_id, carrier=carrier, to=accept.event.to,
                    phone=mask(accept.event.phone), carrier_message_id=accept.event.carrier_message_id,
                    reason="the number is registered to another tenant")
    for reason in result.ignored:
        log.info(f"{kind}_ignored", tenant=tenant_id, carrier=carrier, reason=reason)
    outcomes = [step.outcome for step in steps]
    if "in_flight" in outcomes:  # the carrier retries, and then finds it accepted
        return _unavailable(label, kind, "in_flight", started)
    _finish(label, kind, _summary(outcomes, result.ignored, bool(foreign)), started)
    body, media_type = adapter.ack()
    return Response(body, media_type=media_type)


def _summary(outcomes: list[str], ignored: list[str], foreign: bool) -> str:
    if "accepted" in outcomes:
        return "accepted"
    if foreign and not outcomes:
        return "foreign_number"
    return outcomes[0] if outcomes else ("ignored" if ignored else "empty")
