"""How a service is described and hosted: the same host runs one service or all four.

A service module supplies a `Service`: its API routers, its subscriptions (topic, group, handler)
and its background loops. `build_app` wires any list of them into one FastAPI app whose lifespan
opens the database (migrating it), starts the bus, subscribes the handlers and, on shutdown
(SIGTERM through uvicorn), stops consuming, lets in-flight handlers finish and commit, and closes
the producer. `python -m services.router` hosts one service; `parley run` hosts all four.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from libs.common import streams
from libs.common.bus import Bus, BusUnavailable, make_bus
from libs.common.config import Settings
from libs.common.db.migrate import upgrade
from libs.common.db.session import make_engine, make_sessionmaker, ping
from libs.common.events import Event
from libs.common.events.base import utcnow
from libs.common.observability import configure_logging, health_router

log = structlog.get_logger("parley")

CtxHandler = Callable[[Any, "Ctx"], Awaitable[Sequence[Event] | None]]


@dataclass
class Ctx:
    """What handlers and routes get: settings, bus, database, and a clock tests can set."""

    settings: Settings
    bus: Bus
    engine: AsyncEngine
    sessions: async_sessionmaker
    clock: Callable[[], datetime] = utcnow
    state: dict[str, Any] = field(default_factory=dict)
    # Per-process resources a service opened lazily (an HTTP pool): closed after the consumers
    # stopped, before the database.
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass(frozen=True)
class Subscription:
    topic: str
    group: str
    handler: CtxHandler
    batch_handler: CtxHandler | None = None  # many events in one call; see Bus.consume


@dataclass(frozen=True)
class Service:
    name: str
    routers: Sequence[APIRouter] = ()
    subscriptions: Sequence[Subscription] = ()
    startup: Sequence[Callable[[Ctx], Awaitable[None]]] = ()
    loops: Sequence[Callable[[Ctx], Awaitable[None]]] = ()


async def open_ctx(settings: Settings, client_id: str = "parley") -> Ctx:
    engine = make_engine(settings.database_url)
    if settings.migrate_on_start:
        await upgrade(engine)
    bus = make_bus(settings, client_id=client_id)
    await bus.start()
    return Ctx(settings=settings, bus=bus, engine=engine, sessions=make_sessionmaker(engine))


async def close_ctx(ctx: Ctx) -> None:
    await ctx.bus.stop()
    for close in reversed(ctx.closers):
        with contextlib.suppress(Exception):
            await close()
    await ctx.engine.dispose()


async def start_services(ctx: Ctx, services: Sequence[Service]) -> list[asyncio.Task]:
    for svc in services:
        for hook in svc.startup:
            await hook(ctx)
    for svc in services:
        for sub in svc.subscriptions:
            batch = functools.partial(sub.batch_handler, ctx=ctx) if sub.batch_handler else None
            await ctx.bus.consume(sub.topic, sub.group, functools.partial(sub.handler, ctx=ctx),
                                  batch_handler=batch)
    return [asyncio.create_task(loop(ctx), name=f"loop:{loop.__name__}")
            for svc in services for loop in svc.loops]


def build_app(services: Sequence[Service], settings: Settings | None = None,
              ctx: Ctx | None = None,
              on_started: Callable[[Ctx], None] | None = None) -> FastAPI:
    """One FastAPI app for the given services. Pass `ctx` to share an already open one (tests)."""
    settings = settings or (ctx.settings if ctx else Settings())
    names = "+".join(s.name for s in services)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_format, settings.log_level)
        own = ctx is None
        app.state.ctx = ctx or await open_ctx(settings, client_id=f"parley-{names}")
        loops = await start_services(app.state.ctx, services)
        log.info("started", services=names, bus=settings.bus,
                 database=app.state.ctx.engine.url.get_backend_name())
        if on_started:
            on_started(app.state.ctx)
        try:
            yield
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if own:
                await close_ctx(app.state.ctx)
            log.info("stopped", services=names)

    app = FastAPI(title=f"Parley {names}", lifespan=lifespan)

    async def db_ready() -> bool:
        return await ping(app.state.ctx.engine)

    async def bus_ready() -> bool:
        return await app.state.ctx.bus.ready()

    app.include_router(health_router({"database": db_ready, "bus": bus_ready}))
    for svc in services:
        for router in svc.routers:
            app.include_router(router)

    @app.exception_handler(BusUnavailable)
    async def _bus_down(request: Request, exc: BusUnavailable) -> JSONResponse:
        log.error("bus_unavailable", path=request.url.path, error=str(exc))
        return JSONResponse({"detail": "event bus unavailable, retry later"}, status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse({"detail": "conflicts with an existing record"}, status_code=409)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("database_unavailable", path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"detail": "database unavailable, retry later"}, status_code=503,
                            headers={"Retry-After": "5"})

    return app


def get_ctx(request: Request) -> Ctx:
    return request.app.state.ctx


CtxDep = Annotated[Ctx, Depends(get_ctx)]


def serve(services: Sequence[Service], settings: Settings | None = None,
          app: FastAPI | None = None) -> None:
    """Run services under uvicorn until SIGTERM/SIGINT, then stop gracefully and exit 0. `app`
    hosts that app instead of `build_app(services)` (the console, which has no database or bus).

    On SIGTERM (Kubernetes, `docker stop`) uvicorn closes the listening socket and gives requests
    in flight up to `http_grace_s` to finish; then the lifespan stops consuming, lets in-flight
    handlers finish and commit, and closes the producer. deploy/k8s sets
    terminationGracePeriodSeconds to cover its preStop pause, `http_grace_s` and that drain. A second
    Ctrl-C skips the HTTP wait. Exit status: 0 after a graceful stop, 3 when startup failed.
    """
    import signal
    import sys

    import uvicorn

    http_grace_s = 20
    settings = settings or Settings()
    config = uvicorn.Config(app or build_app(services, settings), host=settings.host, port=settings.port,
                            log_config=None, timeout_graceful_shutdown=http_grace_s)
    server = streams.Server(config)  # uvicorn's, ending event streams first

    # uvicorn restores the handlers it found and re-raises the signal that stopped it once its
    # shutdown is done, so with the default handler a drained service would still die of SIGTERM
    # (status 143). This handler only asks the server to stop: a signal that lands before uvicorn
    # installs its own still stops it, and the re-raised one after a graceful stop is a no-op.
    def request_stop(signum: int, frame: object) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE: the socket or the lifespan startup failed
