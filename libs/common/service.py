"""How a service is described and hosted: the same host runs one service or all four.

A service module supplies a `Service`: its API routers, its subscriptions (topic, group, handler)
and its background loops. `build_app` wires any list of them into one FastAPI app whose lifespan
serves HTTP at once and, in the background, opens the database (migrating it), starts the bus,
subscribes the handlers and starts the loops, waiting out a database or broker that does not
answer yet (libs/common/startup.py). On shutdown (SIGTERM through uvicorn) it stops consuming,
lets in-flight handlers finish and commit, and closes the producer. `python -m services.router`
hosts one service; `parley run` hosts all four.
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
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.common import streams, workers
from libs.common.backoff import DEPENDENCY
from libs.common.bus import Bus, BusUnavailable, make_bus
from libs.common.config import Misconfigured, Settings, describe_errors
from libs.common.db.migrate import upgrade
from libs.common.db.session import make_engine, make_sessionmaker, ping
from libs.common.events import Event
from libs.common.events.base import utcnow
from libs.common.observability import configure_logging, health_router
from libs.common.startup import BUS, CONSUMERS, DATABASE, Dependencies, describe, until_up

log = structlog.get_logger("parley")

RETRY_AFTER_S = "5"

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


def new_ctx(settings: Settings, client_id: str = "parley", worker: int | None = None) -> Ctx:
    """A context whose engine and bus are built but not connected yet. A setting that cannot work
    (a malformed URL, SASL settings without credentials) raises here, before anything waits."""
    engine = make_engine(settings.database_url)
    bus = make_bus(settings, client_id=client_id, worker=worker)
    return Ctx(settings=settings, bus=bus, engine=engine, sessions=make_sessionmaker(engine))


async def connect_ctx(ctx: Ctx, deps: Dependencies, *, wait: bool = True) -> None:
    """Database first (then its migrations), then the bus; each step waits out an outage."""
    await until_up(lambda: ping(ctx.engine), deps, DATABASE, proves=True, wait=wait)
    if ctx.settings.migrate_on_start:
        await until_up(lambda: upgrade(ctx.engine), deps, DATABASE, wait=wait)
    await until_up(ctx.bus.start, deps, BUS, proves=True, wait=wait)


async def open_ctx(settings: Settings, client_id: str = "parley") -> Ctx:
    ctx = new_ctx(settings, client_id)
    await connect_ctx(ctx, Dependencies(), wait=False)
    return ctx


async def close_ctx(ctx: Ctx) -> None:
    await ctx.bus.stop()
    for close in reversed(ctx.closers):
        with contextlib.suppress(Exception):
            await close()
    await ctx.engine.dispose()


async def start_services(ctx: Ctx, services: Sequence[Service], deps: Dependencies | None = None,
                         *, wait: bool = False) -> list[asyncio.Task]:
    """Startup hooks in order, then every subscription at once (each joins its consumer group
    concurrently: a restarted replica does not wait group after group), then the loops."""
    deps = deps or Dependencies()
    for svc in services:
        for hook in svc.startup:
            await until_up(functools.partial(hook, ctx), deps, DATABASE, wait=wait)
    subscriptions = [sub for svc in services for sub in svc.subscriptions]
    if subscriptions:
        deps.states[CONSUMERS] = f"joining {len(subscriptions)} consumer groups"
        async with asyncio.TaskGroup() as joins:
            for sub in subscriptions:
                joins.create_task(until_up(functools.partial(_subscribe, ctx, sub), deps, BUS, wait=wait))
        deps.states[CONSUMERS] = "ok"
    return [asyncio.create_task(supervised(loop, ctx), name=f"loop:{loop.__name__}")
            for svc in services for loop in svc.loops]


async def _subscribe(ctx: Ctx, sub: Subscription) -> None:
    batch = functools.partial(sub.batch_handler, ctx=ctx) if sub.batch_handler else None
    await ctx.bus.consume(sub.topic, sub.group, functools.partial(sub.handler, ctx=ctx),
                          batch_handler=batch)


async def supervised(loop: Callable[[Ctx], Awaitable[None]], ctx: Ctx) -> None:
    """Run a service loop for the life of the process: one that raises is logged and started
    again after a back-off pause instead of staying dead without a word."""
    failures = 0
    while True:
        try:
            await loop(ctx)
            return
        except Exception as exc:
            failures += 1
            log.error("loop_failed_restarting", loop=loop.__name__, failures=failures, error=repr(exc))
            await asyncio.sleep(DEPENDENCY.delay(failures))


def waits_for_dependencies(settings: Settings) -> bool:
    """Whether starting may have to wait: a broker or a database server may not answer yet. The
    embedded backends (memory bus, SQLite file) are there at once, so that mode is ready at once."""
    return settings.bus != "memory" or not settings.is_sqlite


@dataclass
class Startup:
    """How far bringing the services up has come: /readyz shows `deps` until `ready`."""

    deps: Dependencies
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failed: BaseException | None = None
    task: asyncio.Task | None = None

    async def wait(self) -> None:
        """Until the services are ready; raises what made the start fail."""
        ready = asyncio.ensure_future(self.ready.wait())
        waits = {ready} | ({self.task} if self.task else set())
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self.failed is not None:
            raise self.failed
        if not self.ready.is_set():
            raise RuntimeError("the services stopped before they were ready")


async def started(app: FastAPI) -> Ctx:
    """The app's context once its services are ready (for hosts that need them running)."""
    await app.state.startup.wait()
    return app.state.ctx


class NotReadyGate:
    """Until the services are ready, every route except health, metrics and the API docs answers
    503 with Retry-After and what it is waiting for: not a 500 from a half-built context, and not a
    request held open while the database does not answer. Carriers retry webhooks on a 503."""

    OPEN = ("/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        startup = getattr(scope["app"].state, "startup", None) if scope["type"] == "http" else None
        if startup is not None and not startup.ready.is_set() and not scope["path"].startswith(self.OPEN):
            response = JSONResponse(
                {"detail": f"starting: waiting for {startup.deps.waiting_for()}, retry later",
                 "code": "unavailable"}, status_code=503, headers={"Retry-After": RETRY_AFTER_S})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_app(services: Sequence[Service], settings: Settings | None = None,
              ctx: Ctx | None = None,
              on_started: Callable[[Ctx], None] | None = None,
              on_failed: Callable[[BaseException], None] | None = None) -> FastAPI:
    """One FastAPI app for the given services. Pass `ctx` to share an already open one (tests).

    The lifespan does not wait for the database or the broker: HTTP is served at once (/healthz
    200, /readyz 503 with what is awaited, other routes 503) while a background task connects,
    migrates, starts the bus, runs the startup hooks, joins the consumer groups and starts the
    loops, waiting out outages. A failure that waiting cannot fix is logged and handed to
    `on_failed` (serve() then exits 3). The embedded backends start inline, ready at once.
    """
    settings = settings or (ctx.settings if ctx else Settings())
    names = "+".join(s.name for s in services)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_format, settings.log_level)
        own = ctx is None
        try:
            app.state.ctx = ctx or new_ctx(settings, client_id=f"parley-{names}",
                                           worker=workers.index())
        except Misconfigured as exc:
            log.error("startup_failed", services=names, error=describe(exc))
            raise
        startup = Startup(Dependencies())
        loops: list[asyncio.Task] = []

        async def bring_up(wait: bool) -> None:
            if own:
                await connect_ctx(app.state.ctx, startup.deps, wait=wait)
            loops.extend(await start_services(app.state.ctx, services, startup.deps, wait=wait))
            startup.ready.set()
            log.info("started", services=names, bus=settings.bus,
                     database=app.state.ctx.engine.url.get_backend_name())
            if on_started:
                on_started(app.state.ctx)

        async def bring_up_in_background() -> None:
            try:
                await bring_up(wait=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                startup.failed = exc
                log.error("startup_failed", services=names, error=describe(exc),
                          exc_info=not isinstance(exc, Misconfigured))
                if on_failed:
                    on_failed(exc)

        app.state.startup = startup
        try:
            if own and waits_for_dependencies(settings):
                startup.task = asyncio.create_task(bring_up_in_background(), name="startup")
            else:
                await bring_up(wait=False)
            yield
        finally:
            if startup.task is not None:
                startup.task.cancel()
                await asyncio.gather(startup.task, return_exceptions=True)
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if own:
                await close_ctx(app.state.ctx)
            log.info("stopped", services=names)

    app = FastAPI(title=f"Parley {names}", lifespan=lifespan)
    app.add_middleware(RefuseNulInUrl)
    app.add_middleware(NotReadyGate)

    async def db_ready() -> bool:
        return await ping(app.state.ctx.engine)

    async def bus_ready() -> bool:
        return await app.state.ctx.bus.ready()

    def starting() -> dict[str, str] | None:
        startup = getattr(app.state, "startup", None)
        return None if startup is None or startup.ready.is_set() else dict(startup.deps.states)

    app.include_router(health_router({"database": db_ready, "bus": bus_ready}, starting))
    for svc in services:
        for router in svc.routers:
            app.include_router(router)

    @app.exception_handler(BusUnavailable)
    async def _bus_down(request: Request, exc: BusUnavailable) -> JSONResponse:
        log.error("bus_unavailable", path=request.url.path, error=str(exc))
        return JSONResponse({"detail": "event bus unavailable, retry later"}, status_code=503,
                            headers={"Retry-After": RETRY_AFTER_S})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": refusal_details(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _refused(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"detail": printable(exc.detail)}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse({"detail": "conflicts with an existing record"}, status_code=409)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("database_unavailable", path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"detail": "database unavailable, retry later"}, status_code=503,
                            headers={"Retry-After": RETRY_AFTER_S})

    return app


class RefuseNulInUrl:
    """A NUL character in the path or query names nothing that exists and cannot reach a
    PostgreSQL query: 422 before any route runs (ASGI, so streamed uploads stay streamed)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        query = scope.get("query_string", b"")
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in query or b"\x00" in query):
            response = JSONResponse({"detail": "the URL may not contain a NUL character (%00)"},
                                    status_code=422)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def refusal_details(errors: Sequence[dict]) -> list[dict]:
    """Validation errors as the caller may read them: where (with the place an `InputError`
    found inside the value) and why, without FastAPI's echo of the input (a body that is not
    UTF-8, infinities or lone surrogates could not be rendered, and a megabyte posted would come
    back) and with the context as plain text."""
    out = []
    for e in errors:
        inner = getattr((e.get("ctx") or {}).get("error"), "loc", ())  # an InputError's place
        item = {"type": e.get("type"), "loc": [*e.get("loc", ()), *inner], "msg": str(e.get("msg", ""))}
        if e.get("ctx"):
            item["ctx"] = {str(k): v if isinstance(v, bool | int | str) else str(v)
                           for k, v in e["ctx"].items()}
        out.append(printable(item))
    return out


def printable(value: Any) -> Any:
    """`value` with every string made encodable: a refusal may name a key or quote a value that
    holds a lone surrogate, which no JSON answer can carry as such (it becomes `\\ud800`)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


# uvloop's event loop and the httptools parser instead of asyncio's loop and h11: the same
# requests and consumers for markedly less CPU each (bench/pipeline.py, bench/ingress.py).
FAST_HTTP = {"loop": "uvloop", "http": "httptools"}


async def get_ctx(request: Request) -> Ctx:
    # async: FastAPI runs a sync dependency in a worker thread, a hop on every request.
    return request.app.state.ctx


CtxDep = Annotated[Ctx, Depends(get_ctx)]


def serve(services: Sequence[Service], settings: Settings | None = None,
          default_port: int = 8080, app: FastAPI | None = None) -> None:
    """Run services under uvicorn until SIGTERM/SIGINT, then stop gracefully and exit 0. `app`
    hosts that app instead of `build_app(services)` (the console, which has no database or bus).

    HTTP is up at once; the database and the broker are waited for in the background (see
    `build_app`), so a service started during an outage comes up and becomes ready when they
    answer instead of exiting into a crash loop. On SIGTERM (Kubernetes, `docker stop`), also
    while still waiting, uvicorn closes the listening socket and gives requests in flight up to
    `http_grace_s` to finish; then the lifespan stops consuming, lets in-flight handlers finish and
    commit, and closes the producer. deploy/k8s sets terminationGracePeriodSeconds to cover its
    preStop pause, `http_grace_s` and that drain. A second Ctrl-C skips the HTTP wait.
    `default_port` is the service's own port when PARLEY_PORT is not set.
    Exit status: 0 after a graceful stop, 2 for invalid settings (each named, before anything
    starts), 3 when starting failed for a reason waiting cannot fix (a wrong password, a database
    that does not exist, a failed migration, the port taken).
    """
    import signal
    import sys

    import uvicorn

    http_grace_s = 20
    try:
        settings = settings or Settings()
    except ValidationError as exc:
        configure_logging(_env_log_format(), "INFO")
        log.error("invalid_settings", errors=describe_errors(exc))
        sys.exit(2)
    if "port" not in settings.model_fields_set:
        settings = settings.model_copy(update={"port": default_port})
    configure_logging(settings.log_format, settings.log_level)
    count = workers.count(settings.workers, settings.bus)
    if count > 1 and workers.index() is None:
        sys.exit(workers.supervise(count, settings.host, settings.port))
    server: uvicorn.Server | None = None

    def stop_serving(_: BaseException) -> None:
        if server is not None:
            server.should_exit = True

    app = app or build_app(services, settings, on_failed=stop_serving)
    fd = workers.listen_fd()  # a worker serves the socket its supervisor bound
    listen = {"fd": fd} if fd is not None else {"host": settings.host, "port": settings.port}
    config = uvicorn.Config(app, log_config=None, timeout_graceful_shutdown=http_grace_s,
                            **listen, **FAST_HTTP)
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
    startup = getattr(app.state, "startup", None)
    if not server.started or (startup is not None and startup.failed is not None):
        sys.exit(3)  # uvicorn's STARTUP_FAILURE: the socket, the lifespan or the background start


def _env_log_format() -> str:
    import os

    fmt = os.environ.get("PARLEY_LOG_FORMAT", "auto")
    return fmt if fmt in ("auto", "json", "console") else "auto"
