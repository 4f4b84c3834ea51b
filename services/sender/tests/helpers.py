"""Sender test helpers: a tenant's number on a fake carrier, commands, counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from libs.common.events.sms_outbound import SendSms
from libs.common.service import Ctx
from libs.common.testing.http import local_server
from services.sender.carriers.fakes import CREDENTIALS, FakeCarrier

NUMBERS = {"twilio": "+13125550000", "telnyx": "+13125550001", "vonage": "+13125550002",
           "plivo": "+13125550003", "bandwidth": "+13125550004"}


@asynccontextmanager
async def on_fake_carrier(app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str], carrier: str,
                          **number: object) -> AsyncIterator[FakeCarrier]:
    """The tenant gets `carrier` credentials and a number on it; the carrier is a local fake."""
    fake = FakeCarrier(carrier)
    async with local_server(fake) as url:
        setattr(app.state.ctx.settings, f"{carrier}_base_url", url)
        if hasattr(app.state.ctx.settings, f"{carrier}_reports_base_url"):  # Vonage's lookups
            setattr(app.state.ctx.settings, f"{carrier}_reports_base_url", url)
        resp = await client.put(f"/v1/tenants/acme/credentials/{carrier}", headers=headers,
                                json={"values": CREDENTIALS[carrier]})
        assert resp.status_code in (200, 204), resp.text
        resp = await client.post("/v1/numbers", headers=headers,
                                 json={"number": NUMBERS[carrier], "carrier": carrier, **number})
        assert resp.status_code == 201, resp.text
        yield fake


def command(action_id: str = "act-1", *, phone: str = "+15555550100",
            from_number: str | None = "+15555550000", body: str = "hello", kind: str = "reply",
            **extra: object) -> SendSms:
    return SendSms(tenant_id="acme", phone=phone, from_number=from_number, body=body, action_id=action_id,
                   kind=kind, **extra)  # type: ignore[arg-type]


async def count(ctx: Ctx, model, *where) -> int:
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def listen(ctx: Ctx, topic: str) -> list:
    """Every event published on `topic` from now on (and before: a new group reads from the start)."""
    import uuid

    got: list = []

    async def collect(event) -> None:
        got.append(event)

    await ctx.bus.consume(topic, f"probe-{uuid.uuid4().hex[:8]}", collect)
    return got


async def send(client: httpx.AsyncClient, headers: dict[str, str], to: str, body: str = "Flash sale today",
               **fields: object) -> dict:
    resp = await client.post("/v1/messages", headers=headers, json={"to": to, "body": body, **fields})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def message(client: httpx.AsyncClient, headers: dict[str, str], message_id: str) -> dict:
    resp = await client.get(f"/v1/messages/{message_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()
