"""Run services in-process for a test and talk to them over HTTP (httpx, ASGI transport)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
from fastapi import FastAPI

from libs.common.config import Settings
from libs.common.service import Ctx, Service, build_app, started

T = TypeVar("T")


@asynccontextmanager
async def running(services: Sequence[Service], settings: Settings
                  ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Start the app's lifespan (migrations, bus, consumers), wait until its services are ready,
    and yield it with a client."""
    app = build_app(services, settings)
    async with app.router.lifespan_context(app):
        await started(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test") as client:
            yield app, client


def ctx_of(app: FastAPI) -> Ctx:
    return app.state.ctx


async def eventually(probe: Callable[[], Awaitable[T]], *, timeout: float = 20.0,
                     interval: float = 0.02) -> T:
    """Poll until `probe` returns something truthy (asynchronous effects), else fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)


async def walk_pages(client: httpx.AsyncClient, path: str, headers: dict[str, str], *,
                     limit: int, max_pages: int = 100) -> list:
    """Every item of a paged list, each page asked for by pasting the previous page's
    `next_after` into the URL as it is (not URL-encoded), as a hurried client would."""
    items: list = []
    url = f"{path}?limit={limit}"
    for _ in range(max_pages):
        resp = await client.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items += page["items"]
        if page["next_after"] is None:
            return items
        url = f"{path}?limit={limit}&after={page['next_after']}"
    raise AssertionError(f"{path}: still paging after {max_pages} pages ({len(items)} items)")
