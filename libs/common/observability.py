"""Logs, metrics and health, the same in every service.

Logs are structlog: JSON outside a terminal (production), readable in one. One line per decision,
with the tenant and a masked phone; secrets never reach a log line (credentials are SecretStr and
encrypted blobs). Metrics are Prometheus, served at `/metrics`; their names live here in one place.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Literal

import structlog
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

MetricName = Literal[
    "parley_bus_handled_total",
    "parley_bus_dead_letters_total",
    "parley_http_requests_total",
    "parley_webhooks_total",
    "parley_webhooks_unavailable_total",
    "parley_webhook_seconds",
    "parley_messages_sent_total",
    "parley_link_clicks_total",
    "parley_router_ignored_inbound_total",
    "parley_outgoing_webhooks_total",
    "parley_send_reconciliations_total",
]


def _name(name: MetricName) -> str:
    # prometheus_client appends _total itself to counters
    return name.removesuffix("_total")


BUS_HANDLED = Counter(_name("parley_bus_handled_total"), "Events handled", ["topic", "group"])
BUS_DEAD_LETTERS = Counter(
    _name("parley_bus_dead_letters_total"), "Events parked on a dead-letter topic", ["topic", "group"]
)
WEBHOOKS = Counter(
    _name("parley_webhooks_total"), "Carrier webhooks by outcome", ["carrier", "kind", "outcome"]
)
WEBHOOKS_UNAVAILABLE = Counter(
    _name("parley_webhooks_unavailable_total"),
    "Webhooks answered 503 (each also counted as outcome unavailable), by reason: bus_down "
    "(refused at once while the bus knows it has no broker), in_flight (another copy of the "
    "message is being published), bus (a publish failed or timed out), database, credentials "
    "(sealed under another PARLEY_SECRET_KEY)",
    ["reason"],
)
WEBHOOK_SECONDS = Histogram(
    _name("parley_webhook_seconds"), "Webhook request to answer", ["carrier"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
LINK_CLICKS = Counter(
    _name("parley_link_clicks_total"),
    "Tracked-link taps by outcome: click (a person), bot (a preview), unknown, expired, "
    "unavailable (database down), click_lost (redirected, but the bus could not take the event)",
    ["outcome"],
)
IGNORED_INBOUND = Counter(
    _name("parley_router_ignored_inbound_total"),
    "Inbound texts the router ignored, by reason: own_number (sent by one of the tenant's own numbers)",
    ["reason"],
)
OUTGOING_WEBHOOKS = Counter(
    _name("parley_outgoing_webhooks_total"),
    "Tenants' webhook deliveries by outcome: delivered, retry (a failed attempt), gave_up (the "
    "last attempt failed), refused (not a public destination), skipped (a placeholder host)",
    ["outcome"],
)
MESSAGES_SENT = Counter(
    _name("parley_messages_sent_total"), "Outbound actions by outcome", ["carrier", "outcome"]
)
RECONCILIATIONS = Counter(
    _name("parley_send_reconciliations_total"),
    "Sends whose outcome was unknown, by what recovery found: repeated (the carrier dedups), "
    "found_sent, not_found_resent, unknown (failed, rule carrier_unknown)",
    ["carrier", "outcome"],
)


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    json_logs = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer = (structlog.processors.JSONRenderer() if json_logs
                else structlog.dev.ConsoleRenderer(colors=False))
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


Check = Callable[[], Awaitable[bool]]


def health_router(checks: dict[str, Check]) -> APIRouter:
    """`/healthz` (the process answers), `/readyz` (every dependency answers), `/metrics`."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = {}
        for name, check in checks.items():
            try:
                results[name] = "ok" if await check() else "down"
            except Exception as exc:
                results[name] = f"down: {type(exc).__name__}"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": results},
                            status_code=200 if ok else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
