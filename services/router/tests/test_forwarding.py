"""Forwarding to a tenant's webhook: a real HTTP receiver on 127.0.0.1, signed bodies, retries."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from libs.common.db.models.router import OutgoingWebhook
from libs.common.testing.http import local_server
from libs.common.testing.phone import Clock
from services.router import forwarding


def receiver(received: list, fail_first: int):
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=500 if len(received) <= fail_first else 204)

    return app


async def add_delivery(ctx, url, secret="s3cret"):
    async with ctx.sessions() as session, session.begin():
        session.add(OutgoingWebhook(id="d1", tenant_id="acme", url=url, secret=secret,
                                    payload={"phone": "+15555550100", "flow_id": "feedback"},
                                    status="pending", attempts=0, next_attempt_at=ctx.clock(),
                                    created_at=ctx.clock()))


async def row(ctx):
    async with ctx.sessions() as session:
        return await session.scalar(select(OutgoingWebhook))


async def test_a_delivery_is_signed_retried_with_backoff_and_then_delivered(suite):
    app, _ = suite
    ctx = app.state.ctx
    clock = ctx.clock = Clock(datetime(2026, 11, 20, tzinfo=UTC))
    received: list = []
    async with local_server(receiver(received, fail_first=2)) as base, httpx.AsyncClient() as client:
        await add_delivery(ctx, f"{base}/hook")
        assert await forwarding.deliver_due(ctx, client) == 1
        assert (await row(ctx)).status == "pending"
        assert await forwarding.deliver_due(ctx, client) == 0  # backing off: not due yet
        clock.advance(seconds=1)
        assert await forwarding.deliver_due(ctx, client) == 1  # second failure
        clock.advance(seconds=1)
        assert await forwarding.deliver_due(ctx, client) == 0  # now 2 s of backoff
        clock.advance(seconds=1)
        assert await forwarding.deliver_due(ctx, client) == 1
    delivered = await row(ctx)
    assert delivered.status == "delivered" and delivered.attempts == 3
    headers, body = received[-1]
    expected = hmac.new(b"s3cret", headers["x-parley-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["x-parley-signature"] == expected
    assert b'"phone":"+15555550100"' in body


async def test_an_unreachable_receiver_is_given_up_after_the_last_attempt(suite):
    app, _ = suite
    ctx = app.state.ctx
    clock = ctx.clock = Clock(datetime(2026, 11, 20, tzinfo=UTC))
    async with local_server(FastAPI()) as base:
        url = f"{base}/missing"  # 404 every time
    async with httpx.AsyncClient(timeout=2) as client:
        await add_delivery(ctx, url)
        for _ in range(forwarding.MAX_ATTEMPTS):
            clock.advance(hours=2)
            await forwarding.deliver_due(ctx, client)
    failed = await row(ctx)
    assert failed.status == "failed" and failed.attempts == forwarding.MAX_ATTEMPTS
