"""The operator console: a static single-page app that talks only to Parley's public /v1 API.

- Embedded (`parley run`): `service()` adds `/console` to the one-port suite; the page calls
  /v1 on the same origin.
- Production (`python -m services.console`): `standalone_app()` is a small app of its own, with
  no database and no bus: the page, `/healthz`, `/readyz`, `/metrics`, and, when
  PARLEY_CONSOLE_UPSTREAMS is set (Compose), a pass-through of /v1 to the owning services.
  Behind the Ingress, /v1 is routed to the services directly and the console serves only files.

The page keeps the tenant's API key in the browser's session storage and sends it as a bearer
token on every call: whatever the console does, an API client can do.
"""

from __future__ import annotations

import contextlib

from fastapi import FastAPI

from libs.common.config import Settings
from libs.common.observability import configure_logging, health_router
from libs.common.service import Service
from services.console import pages, proxy


def service() -> Service:
    return Service(name="console", routers=[pages.router])


async def _files_present() -> bool:
    return (pages.STATIC / "index.html").is_file()


def standalone_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    upstreams = proxy.parse_upstreams(settings.console_upstreams)
    passthrough = proxy.router(upstreams) if upstreams else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_format, settings.log_level)
        yield
        for client in getattr(passthrough, "state_client", []):
            await client.aclose()

    app = FastAPI(title="Parley console", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings
    app.include_router(health_router({"files": _files_present}))
    app.include_router(pages.router)
    if passthrough is not None:
        app.include_router(passthrough)
    return app
