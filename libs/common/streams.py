"""Server-sent event streams that end when the server stops, and a bound on how many are open.

uvicorn's graceful stop waits for every response in flight to finish (up to its timeout), and an
event stream never finishes by itself: without help one open console would hold every shutdown
for the whole grace period and then be cancelled. `Server` is uvicorn's server that first tells
the app's streams to end (they close their response at once, the client reconnects elsewhere);
`serve()` and `parley run` run it.

A stream is a polling loop on the server side (`poll_stream`): it works across replicas because
it reads the database, not process memory, and costs one query per interval per open stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, HTTPException, Request

HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from closing an idle stream


class Streams:
    """One app's open streams: a stop signal and a count per tenant."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.open: Counter[str] = Counter()

    def admit(self, tenant_id: str, limit: int) -> None:
        """Refuse (429) a stream beyond the tenant's `limit` open ones."""
        if self.open[tenant_id] >= limit:
            raise HTTPException(429, f"at most {limit} event streams per tenant are open at once",
                                headers={"Retry-After": "5"})

    @contextlib.contextmanager
    def held(self, tenant_id: str):
        """Count a stream as open while its body runs."""
        self.open[tenant_id] += 1
        try:
            yield
        finally:
            self.open[tenant_id] -= 1


def of(app: FastAPI) -> Streams:
    streams = getattr(app.state, "streams", None)
    if streams is None:
        streams = app.state.streams = Streams()
    return streams


class Server(uvicorn.Server):
    """uvicorn's server, which tells the app's event streams to end before it waits for the
    responses in flight."""

    async def shutdown(self, sockets=None) -> None:
        app = self.config.app
        if isinstance(app, FastAPI):
            of(app).stopping.set()
        await super().shutdown(sockets)


def frame(event: str, data: Any) -> bytes:
    """One server-sent event (the data as one line of JSON)."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def poll_stream(request: Request, read: Callable[[], Awaitable[Any]], event: str,
                      interval: float) -> AsyncIterator[bytes]:
    """Send `read()` as `event` at once and again whenever it changes (checked every
    `interval` seconds), a heartbeat comment when nothing changed for a while; end when the
    client goes away or the server stops."""
    stopping = of(request.app).stopping
    last: Any = object()
    quiet_since = time.monotonic()
    yield b"retry: 1000\n\n"  # how soon a client should reconnect when the stream ends
    while not stopping.is_set() and not await request.is_disconnected():
        current = await read()
        if current != last:
            last, quiet_since = current, time.monotonic()
            yield frame(event, current)
        elif time.monotonic() - quiet_since >= HEARTBEAT_S:
            quiet_since = time.monotonic()
            yield b": heartbeat\n\n"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)
