"""GET /v1/conversations/events: the agent queue as server-sent events, over real HTTP (a
streaming response cannot be read through the in-process transport), on both profiles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from libs.common import streams
from libs.common.testing.app import eventually
from libs.common.testing.http import serving as http_serving
from libs.common.testing.phone import Phone
from services.router import desk_events

LIMIT_S = 20  # a safety bound on waiting for an event, not a measurement


def serving(app, grace_s: float = 600):
    """The started app on a 127.0.0.1 port under `streams.Server` (as `serve()` runs it)."""
    return http_serving(app, streams.Server, timeout_graceful_shutdown=grace_s)


async def events(resp: httpx.Response) -> AsyncIterator[tuple[str, object]]:
    """(event, data) per server-sent event; comments as ("comment", text)."""
    event, data = None, []
    async for line in resp.aiter_lines():
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and event:
            yield event, orjson.loads("\n".join(data))
            event, data = None, []


async def next_queue(stream) -> list[dict]:
    while True:
        kind, data = await asyncio.wait_for(anext(stream), LIMIT_S)
        if kind == "queue":
            return data


@pytest.fixture
async def desk(playbooks, suite):
    _ctx, client, headers = playbooks
    resp = await client.patch("/v1/tenants/acme", headers=headers, json={"fallback_to_agent": True})
    assert resp.status_code == 200
    return suite[0], client, headers


async def test_the_stream_sends_the_queue_at_once_and_again_on_each_change(desk):
    app, client, headers = desk
    async with serving(app) as (_, _, base), httpx.AsyncClient(base_url=base, timeout=30) as http, \
            http.stream("GET", "/v1/conversations/events", headers=headers) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        stream = events(resp)
        assert await next_queue(stream) == []

        phone = Phone(client, "+15555550601")
        await phone.text("where is my order?")  # unmatched: handed to an agent
        (entry,) = await next_queue(stream)
        assert (entry["phone"], entry["reason"], entry["assignee"]) == (phone.number, "unmatched", None)
        seen_line = entry["last_line"]

        await client.post(f"/v1/conversations/{entry['id']}/claim", headers=headers,
                          json={"agent": "ana@acme.test"})
        (claimed,) = await next_queue(stream)
        assert claimed["assignee"] == "ana@acme.test" and claimed["last_line"] == seen_line

        await phone.text("hello?")  # a new line in the transcript: a desk showing it refetches
        (moved,) = await next_queue(stream)
        assert moved["last_line"] > seen_line

        await client.post(f"/v1/conversations/{entry['id']}/resolve", headers=headers)
        assert await next_queue(stream) == []


async def test_the_stream_needs_a_key_and_sees_only_its_tenant(desk, admin_headers):
    app, client, headers = desk
    other = await client.post("/v1/tenants", headers=admin_headers, json={"id": "other", "name": "O"})
    other_key = {"Authorization": f"Bearer {other.json()['api_key']}"}
    await Phone(client, "+15555550602").text("anyone?")
    async with serving(app) as (_, _, base), httpx.AsyncClient(base_url=base, timeout=30) as http:
        assert (await http.get("/v1/conversations/events")).status_code == 401
        async with http.stream("GET", "/v1/conversations/events", headers=headers) as mine:
            stream = events(mine)
            while not (queue := await next_queue(stream)):
                pass
            assert [e["phone"] for e in queue] == ["+15555550602"]
        async with http.stream("GET", "/v1/conversations/events", headers=other_key) as theirs:
            assert await next_queue(events(theirs)) == []


async def test_a_quiet_stream_sends_heartbeats(desk, monkeypatch):
    monkeypatch.setattr(streams, "HEARTBEAT_S", 0.05)
    app, _, headers = desk
    async with serving(app) as (_, _, base), httpx.AsyncClient(base_url=base, timeout=30) as http, \
            http.stream("GET", "/v1/conversations/events", headers=headers) as resp:
        stream = events(resp)
        assert await next_queue(stream) == []
        assert await asyncio.wait_for(anext(stream), LIMIT_S) == ("comment", "heartbeat")


async def test_streams_per_tenant_are_bounded(desk, monkeypatch):
    monkeypatch.setattr(desk_events, "MAX_STREAMS_PER_TENANT", 1)
    app, _, headers = desk
    async with serving(app) as (_, _, base), httpx.AsyncClient(base_url=base, timeout=30) as http:
        async with http.stream("GET", "/v1/conversations/events", headers=headers) as first:
            held = events(first)  # kept referenced: a dropped reader closes its connection
            await next_queue(held)
            async with http.stream("GET", "/v1/conversations/events", headers=headers) as second:
                assert second.status_code == 429 and second.headers["retry-after"] == "5"

        async def admitted():
            async with http.stream("GET", "/v1/conversations/events", headers=headers) as again:
                return again.status_code == 200

        assert await eventually(admitted)  # the first one's slot frees once the server sees it gone


async def test_stopping_the_server_ends_open_streams_instead_of_waiting_for_them(desk):
    app, _, headers = desk
    async with serving(app, grace_s=600) as (server, task, base), \
            httpx.AsyncClient(base_url=base, timeout=30) as http, \
            http.stream("GET", "/v1/conversations/events", headers=headers) as resp:
        stream = events(resp)
        await next_queue(stream)
        server.should_exit = True
        rest = [item async for item in stream]  # the response ends: the stream is over
        assert all(kind == "comment" for kind, _ in rest)
        await asyncio.wait_for(task, LIMIT_S)  # stopped well inside its 600 s graceful wait
