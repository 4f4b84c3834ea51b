"""A pass-through of Parley's public /v1 API, for where no Ingress routes it (Docker Compose: the
services listen on ports of their own). Not a back door: a request goes, headers and body as
sent, to the service that owns its prefix, which authenticates it as it would any client's; the
console adds nothing and keeps nothing. Off unless PARLEY_CONSOLE_UPSTREAMS names the owners
(`/v1/flows=http://router:8080,…`); a prefix it does not list is a 404 here.

Responses stream through (the desk's event stream included) and end when the console stops.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from libs.common import streams

# Hop-by-hop headers (RFC 9110 §7.6.1) and those httpx sets itself: never passed on.
HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                 "trailer", "transfer-encoding", "upgrade", "host", "content-length"})


class BadUpstreams(ValueError):
    pass


def parse_upstreams(text: str) -> dict[str, str]:
    """`/v1/a=http://x:8080,/v1/b=http://y:8080` → {prefix: base URL}."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        prefix, sep, url = item.partition("=")
        prefix, url = prefix.strip().rstrip("/"), url.strip().rstrip("/")
        if not sep or not prefix.startswith("/v1/") or not url.startswith(("http://", "https://")):
            raise BadUpstreams(f"PARLEY_CONSOLE_UPSTREAMS: {item!r} is not /v1/<prefix>=http(s)://host:port")
        out[prefix] = url
    return out


def upstream_for(path: str, upstreams: dict[str, str]) -> str | None:
    """The base URL of the service owning `path` (the longest listed prefix it is under)."""
    matches = [p for p in upstreams if path == p or path.startswith(p + "/")]
    return upstreams[max(matches, key=len)] if matches else None


def router(upstreams: dict[str, str]) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    client: list[httpx.AsyncClient] = []

    def http() -> httpx.AsyncClient:
        if not client:  # one pool per process, opened on first use (inside the event loop)
            client.append(httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None),
                                            follow_redirects=False, trust_env=False))
        return client[0]

    @api.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def pass_through(rest: str, request: Request) -> StreamingResponse:
        base = upstream_for(request.url.path, upstreams)
        if base is None:
            raise HTTPException(404, f"no service serves {request.url.path}")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        outgoing = http().build_request(request.method, base + request.url.path,
                                        params=request.query_params, headers=headers,
                                        content=await request.body())
        try:
            answer = await http().send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"{base} did not answer: {type(exc).__name__}") from exc
        stopping = streams.of(request.app).stopping
        return StreamingResponse(
            _relay(answer, stopping), status_code=answer.status_code,
            headers={k: v for k, v in answer.headers.items() if k.lower() not in HOP})

    api.state_client = client  # for closing at shutdown
    return api


async def _relay(answer: httpx.Response, stopping: asyncio.Event):
    """The upstream body as it came (raw, any content-encoding kept), chunk by chunk, until it
    ends or the console stops."""
    chunks = answer.aiter_raw()
    stop = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            step = asyncio.ensure_future(anext(chunks))
            done, _ = await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
                return
            try:
                yield step.result()
            except StopAsyncIteration:
                return
    finally:
        stop.cancel()
        await answer.aclose()
