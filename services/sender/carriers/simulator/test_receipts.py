"""The simulated carrier's receipt queue and posting, without a database: due order, the bound,
retries with a doubling backoff, what each ingress answer means, and the webhook's body."""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import SimpleNamespace

import httpx
import pytest

from libs.common.config import Settings
from libs.common.observability import SIMULATOR_RECEIPTS
from libs.common.testing.app import eventually
from services.sender.carriers.simulator import receipts
from services.sender.carriers.simulator.receipts import Receipt, ReceiptQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def r(n: int, phone: str = "+15555550100") -> Receipt:
    return Receipt("acme", phone, f"m{n}")


def count(outcome: str) -> float:
    return SIMULATOR_RECEIPTS.labels(outcome=outcome)._value.get()


async def test_receipts_come_due_after_the_delay_oldest_first_a_batch_at_a_time():
    clock = Clock()
    queue = ReceiptQueue(0.5, clock=clock)
    for n in range(5):
        assert queue.put(r(n))
        clock.now += 0.1
    clock.now = 100.65  # the first two are due (at 100.5 and 100.6)
    assert [e.receipt.message_id for e in await queue.take(10)] == ["m0", "m1"]
    clock.now = 101.0
    assert [e.receipt.message_id for e in await queue.take(2)] == ["m2", "m3"]
    assert [e.receipt.message_id for e in await queue.take(2)] == ["m4"]
    assert len(queue) == 0


def test_a_full_queue_refuses_a_receipt_instead_of_waiting():
    queue = ReceiptQueue(0.5, limit=2, clock=Clock())
    assert queue.put(r(1)) and queue.put(r(2))
    assert not queue.put(r(3))
    assert len(queue) == 2


async def test_a_failed_post_comes_back_after_a_doubling_backoff_until_its_tries_run_out():
    clock = Clock()
    queue = ReceiptQueue(0.5, clock=clock)
    queue.put(r(1))
    waits = []
    for _ in range(receipts.TRIES):
        clock.now += 10
        (entry,) = await queue.take(1)
        start = clock.now
        if not queue.again(entry):
            break
        waits.append(queue._heap[0].due - start)
    assert waits == [0.5, 1.0, 2.0]  # then the fourth try was the last
    assert entry.tries == receipts.TRIES and len(queue) == 0


@pytest.mark.parametrize("outcome, body", [
    (None, {"id": "m1", "to": "+15555550100", "status": "delivered"}),
    (("delivered", None), {"id": "m1", "to": "+15555550100", "status": "delivered"}),
    (("undelivered", "30003"), {"id": "m1", "to": "+15555550100", "status": "undelivered",
                                "error_code": "30003"}),
    (("failed", None), {"id": "m1", "to": "+15555550100", "status": "failed"}),
    (("none", None), None),
])
def test_the_webhook_body_follows_the_phones_outcome(outcome, body):
    assert receipts.payload(r(1), outcome) == body


@pytest.mark.parametrize("status, verdict", [
    (200, "posted"), (204, "posted"), (None, "retry"), (429, "retry"), (500, "retry"), (503, "retry"),
    (400, "refused"), (404, "refused"), (422, "refused"), (301, "refused"),
])
def test_what_an_answer_from_ingress_means(status, verdict):
    assert receipts.verdict(status) == verdict


@pytest.mark.parametrize("given, base", [
    ({}, "http://127.0.0.1:8080"),
    ({"host": "0.0.0.0", "port": 9000}, "http://127.0.0.1:9000"),
    ({"host": "::"}, "http://127.0.0.1:8080"),
    ({"host": "::1"}, "http://[::1]:8080"),
    ({"public_base_url": "https://sms.example.com/"}, "https://sms.example.com"),
    ({"public_base_url": "https://sms.example.com", "simulator_receipt_url": "http://ingress:8080/"},
     "http://ingress:8080"),
])
def test_receipts_go_to_the_receipt_url_else_the_public_url_else_this_port(given, base):
    assert receipts.receipt_base(Settings(**given)) == base
    assert receipts.status_url(base, "a/b") == f"{base}/webhooks/simulator/a%2Fb/status"


# --- posting a batch -------------------------------------------------------------------------------

def fake_ctx(monkeypatch, outcomes: dict) -> SimpleNamespace:
    async def stored(session, wanted):
        return {k: v for k, v in outcomes.items() if k in wanted}

    monkeypatch.setattr(receipts.simulator, "outcomes", stored)
    settings = Settings(simulator_receipt_url="http://ingress.test")
    return SimpleNamespace(settings=settings, sessions=lambda: contextlib.nullcontext(None))


def ingress(answers: list[int], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answers.pop(0) if answers else 200, json={})

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def test_a_receipt_is_tried_again_while_ingress_fails_then_posted(monkeypatch):
    ctx = fake_ctx(monkeypatch, {})
    queue = ReceiptQueue(0.0)
    queue.put(r(1))
    seen: list[httpx.Request] = []
    posted, dropped = count("posted"), count("dropped_unreachable")
    async with ingress([503, 500], seen) as http:
        for _ in range(3):
            await receipts.post_due(ctx, queue, http)
    assert [str(q.url) for q in seen] == ["http://ingress.test/webhooks/simulator/acme/status"] * 3
    assert json.loads(seen[-1].content) == {"id": "m1", "to": "+15555550100", "status": "delivered"}
    assert (count("posted"), count("dropped_unreachable"), len(queue)) == (posted + 1, dropped, 0)


async def test_a_refused_receipt_is_dropped_at_once_and_a_silent_phone_gets_none(monkeypatch):
    ctx = fake_ctx(monkeypatch, {("acme", "+15555550199"): ("none", None)})
    queue = ReceiptQueue(0.0)
    queue.put(r(1))
    queue.put(r(2, phone="+15555550199"))
    seen: list[httpx.Request] = []
    refused, silent = count("refused"), count("none")
    async with ingress([404], seen) as http:
        await receipts.post_due(ctx, queue, http)
    assert len(seen) == 1 and json.loads(seen[0].content)["id"] == "m1"
    assert (count("refused"), count("none"), len(queue)) == (refused + 1, silent + 1, 0)


async def test_the_loop_goes_on_after_an_unexpected_error(monkeypatch):
    calls: list[int] = []

    async def flaky(ctx, queue, http) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        await asyncio.Event().wait()

    monkeypatch.setattr(receipts, "post_due", flaky)
    task = asyncio.create_task(receipts.receipt_loop(SimpleNamespace(settings=Settings(), state={})))

    async def tried_again() -> bool:
        return len(calls) >= 2

    try:
        await eventually(tried_again)
    finally:
        task.cancel()
