"""A real HTTP server on 127.0.0.1 for tests (fake carriers, webhook receivers)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def serving(app, server_class: type[uvicorn.Server] = uvicorn.Server,
                  **config) -> AsyncIterator[tuple[uvicorn.Server, asyncio.Task, str]]:
    """Serve an ASGI app on a free 127.0.0.1 port with `server_class` for the duration; yields
    the server, the task serving and its base URL."""
    port = free_port()
    config = {"log_level": "warning", "lifespan": "off", **config}
    server = server_class(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield server, task, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def local_server(app) -> AsyncIterator[str]:
    """Serve an ASGI app on a free 127.0.0.1 port for the duration; yields its base URL."""
    async with serving(app) as (_, _, base):
        yield base
