"""Logs, metrics and health, the same in every service.

Logs are structlog: JSON outside a terminal (production), readable in one. One line per decision,
with the tenant and a masked phone; secrets never reach a log line (credentials are SecretStr and
encrypted blobs). The libraries' own loggers (uvicorn and its access lines, alembic, aiokafka,
asyncio, sqlalchemy, warnings) go through the same processors, so with JSON every line is JSON.
aiokafka's connection errors, which it repeats many times a second while a broker is away, become
one `kafka_connection_lost` line and one `kafka_connection_restored` line per outage, counted in
`parley_kafka_client_errors_total{kind}`. Metrics are Prometheus, served at `/metrics`; their
names live here in one place.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import structlog
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

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
    "parley_simulator_receipts_total",
    "parley_definition_errors_total",
    "parley_kafka_client_errors_total",
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
SIMULATOR_RECEIPTS = Counter(
    _name("parley_simulator_receipts_total"),
    "Simulated carrier receipts by outcome: posted, none (the phone wants none), refused (ingress "
    "answered 4xx), dropped_unreachable (after every try), dropped_full (the queue was full)",
    ["outcome"],
)
DEFINITION_ERRORS = Counter(
    _name("parley_definition_errors_total"),
    "Parts of tenants' definitions the router skipped: load (a stored definition that no longer "
    "validates), timer (a timer that cannot be scheduled), decision (a decision that failed and "
    "was made again with compliance only)",
    ["tenant", "kind"],
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
KAFKA_CLIENT_ERRORS = Counter(
    _name("parley_kafka_client_errors_total"),
    "Connection errors of the Kafka clients (logged once per outage, counted here): connect, "
    "metadata, fetch, produce, coordinator", ["kind"],
)

log = structlog.get_logger("parley.observability")


class KafkaLink:
    """Whether this process's Kafka clients can reach the broker, as they last saw it: lost on a
    connection error, restored by the bus once a request succeeds again and no client has failed
    for `QUIET_S` (clients reconnect on their own back-off, so their last errors trail the
    recovery: without the quiet period one outage would log several lost/restored pairs). Each
    change is one log line; `up` is cheap to read (a publisher can refuse at once while False)."""

    QUIET_S = 2.0

    def __init__(self) -> None:
        self.up = True
        self._lost_at = self._last_error = 0.0
        self._errors = 0

    def lost(self, kind: str, detail: str) -> None:
        KAFKA_CLIENT_ERRORS.labels(kind=kind).inc()
        self._errors += 1
        self._last_error = time.monotonic()
        if self.up:
            self.up, self._lost_at = False, self._last_error
            log.warning("kafka_connection_lost", kind=kind, detail=detail[:300])

    def restored(self) -> None:
        if not self.up and time.monotonic() - self._last_error >= self.QUIET_S:
            self.up = True
            log.info("kafka_connection_restored", down_for_s=round(time.monotonic() - self._lost_at, 1),
                     errors=self._errors)
            self._errors = 0


KAFKA_LINK = KafkaLink()

# What aiokafka logs (warning and above) when it cannot reach a broker; the kind it is counted as
# comes from what was being attempted.
_KAFKA_UNREACHABLE = re.compile(
    r"Unable to (update|request) metadata|Unable (to )?connect|NodeNotReadyError|KafkaConnectionError"
    r"|Connect call failed|Heartbeat session expired|Marking the coordinator dead"
    r"|coordinator \(node \d+\) is either not started|GroupCoordinatorNotAvailable|NotCoordinatorForGroup")
_KAFKA_KINDS = (("metadata", "metadata"), ("fetch", "fetch"), ("produce", "produce"),
                ("coordinator", "coordinator"), ("heartbeat", "coordinator"))


class KafkaNoise(logging.Filter):
    """Turns aiokafka's repeated connection errors into `KAFKA_LINK` state changes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith("aiokafka"):
            return True
        message = record.getMessage()
        if not _KAFKA_UNREACHABLE.search(message):
            return True
        lowered = message.lower()
        kind = next((kind for word, kind in _KAFKA_KINDS if word in lowered), "connect")
        KAFKA_LINK.lost(kind, message)
        return False


def _access_fields(logger, method: str, event: dict) -> dict:
    """uvicorn's access line, also as fields (client, method, path, http_version, status); the
    other libraries' format arguments are already in their message."""
    args = event.pop("positional_args", ())
    record = event.get("_record")
    if record is not None and record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        event.update(zip(("client", "method", "path", "http_version", "status"), args, strict=True))
    return event


class _Stderr(logging.StreamHandler):
    """A handler on whatever sys.stderr is when a line is written, not when it was configured
    (test runners replace it per test)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _) -> None:
        pass


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    """structlog for Parley's own lines and, through one root handler, for every library logger."""
    json_logs = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final = ([structlog.processors.format_exc_info, structlog.processors.JSONRenderer()] if json_logs
             else [structlog.dev.ConsoleRenderer(colors=False)])
    handler = _Stderr()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _access_fields], pass_foreign_args=True,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final]))
    handler.addFilter(KafkaNoise())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request at INFO: the calls that matter (webhooks, carriers, receipts) have
    # lines of their own, and a line per request would drown them and the CLI's one-line errors.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    # The libraries rendered above go through the root handler at the root's level, also after a
    # uvicorn.Config with its own log_config gave them handlers of their own.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "alembic", "aiokafka", "asyncio"):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
        library.setLevel(logging.NOTSET)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


Check = Callable[[], Awaitable[bool]]


def _registry():
    """This process's metrics; under a worker supervisor (libs/common/workers.py), every worker's
    summed, whichever worker the scrape reached."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def health_router(checks: dict[str, Check],
                  starting: Callable[[], dict[str, str] | None] = lambda: None) -> APIRouter:
    """`/healthz` (the process answers), `/readyz` (every dependency answers), `/metrics`.

    While `starting()` gives the state of each dependency (the service is still coming up),
    /readyz answers 503 `{"status": "starting", "checks": …}` without probing anything."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        waiting = starting()
        if waiting is not None:
            return JSONResponse({"status": "starting", "checks": waiting}, status_code=503)
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
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)

    return router
