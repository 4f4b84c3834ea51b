"""The chaos run's carrier against a scripted webhook server on 127.0.0.1: it retries the same
message id on a 5xx, a timeout and a refused connection, never on a 4xx, gives up after its bound,
and keeps every attempt."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from libs.common.testing.app import eventually
from libs.common.testing.http import free_port, local_server
from tests.chaos import carrier as carrier_module
from tests.chaos.carrier import Carrier, Message, backoff_s


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr(carrier_module, "backoff_s", lambda tries: 0.01)


def scripted(answers: dict[str, list[int | str]]) -> tuple[FastAPI, dict[str, list[dict]]]:
    """A webhook that answers each message id with its next scripted status ("slow": too late)."""
    app, seen = FastAPI(), defaultdict(list)

    @app.post("/inbound")
    async def inbound(request: Request) -> JSONResponse:
        body = await request.json()
        seen[body["id"]].append(body)
        answer = answers[body["id"]].pop(0)
        if answer == "slow":
            await asyncio.sleep(2)
            answer = 200
        return JSONResponse({}, status_code=answer)

    return app, seen


async def deliver(url: str, message: Message, **options) -> Message:
    async with httpx.AsyncClient(timeout=options.pop("timeout_s", 5.0)) as client:
        return await Carrier(url, "+15555550000", **options).deliver(client, message)


async def test_a_5xx_or_a_timeout_is_retried_with_the_same_message_id_until_accepted():
    app, seen = scripted({"m1": [503, 500, "slow", 200]})
    async with local_server(app) as base:
        message = await deliver(f"{base}/inbound", Message("m1", "+14155550001"), timeout_s=0.5)
    assert [a.status for a in message.attempts] == ["503", "500", "timeout", "200"]
    assert message.accepted is message.attempts[-1]
    assert {(b["id"], b["from"], b["body"]) for b in seen["m1"]} == {("m1", "+14155550001", "HELP")}
    assert len(seen["m1"]) == 4


async def test_a_4xx_is_final():
    app, seen = scripted({"m1": [422, 200]})
    async with local_server(app) as base:
        message = await deliver(f"{base}/inbound", Message("m1", "+14155550001"))
    assert [a.status for a in message.attempts] == ["422"]
    assert message.accepted is None and len(seen["m1"]) == 1


async def test_a_refused_connection_is_retried_until_the_bound_then_given_up():
    url = f"http://127.0.0.1:{free_port()}/inbound"  # nothing listens there
    message = await deliver(url, Message("m1", "+14155550001"), give_up_s=0.3)
    assert len(message.attempts) > 1 and {a.status for a in message.attempts} == {"error ConnectError"}
    assert message.accepted is None


async def test_the_stream_sends_distinct_ids_and_phones_until_told_to_stop():
    app, seen = scripted(defaultdict(lambda: [200]))
    until = asyncio.Event()
    async with local_server(app) as base:
        stream = asyncio.create_task(
            Carrier(f"{base}/inbound", "+15555550000").stream(200.0, until, limit=1000, tag="t"))
        async def five_seen() -> bool:
            return len(seen) >= 5

        await eventually(five_seen)
        until.set()
        messages = await stream
    assert 5 <= len(messages) < 1000
    assert len({m.mid for m in messages}) == len({m.phone for m in messages}) == len(messages)
    assert all(m.accepted for m in messages) and set(seen) == {m.mid for m in messages}


def test_the_pause_doubles_up_to_a_cap():
    assert [backoff_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


async def test_a_phones_next_message_is_posted_only_once_the_one_before_is_accepted():
    app, arrivals = FastAPI(), []
    tries: dict[str, int] = defaultdict(int)

    @app.post("/inbound")
    async def inbound(request: Request) -> JSONResponse:
        body = await request.json()
        arrivals.append((body["from"], body["id"]))
        tries[body["id"]] += 1
        return JSONResponse({}, status_code=503 if tries[body["id"]] < 3 else 200)  # 2 refusals each

    until = asyncio.Event()
    async with local_server(app) as base:
        messages = await Carrier(f"{base}/inbound", "+15555550000").stream(
            100.0, until, limit=12, tag="t", per_phone=3)
    assert len(messages) == 12 and all(m.accepted for m in messages)
    phones = {m.phone for m in messages}
    assert len(phones) == 4
    for phone in phones:
        seen = [mid for sender, mid in arrivals if sender == phone]
        first = seen[0]
        assert seen == [first] * 3 + [f"{first}.1"] * 3 + [f"{first}.2"] * 3
        assert [m.mid for m in messages if m.phone == phone] == [first, f"{first}.1", f"{first}.2"]
