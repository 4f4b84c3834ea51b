"""The simulated carrier's delivery receipts: shortly after each send it posts one to ingress's
status webhook, `POST <PARLEY_SIMULATOR_RECEIPT_URL>/webhooks/simulator/{tenant}/status`
`{"id", "to", "status", "error_code"?}`, so a receipt comes in the way any carrier's does.

Never on the send path: a send only puts the receipt in a bounded in-process queue, which never
waits and never fails (full: the receipt is dropped and counted). A loop posts what is due
(`PARLEY_SIMULATOR_RECEIPT_DELAY_S` after the send), a batch at a time, concurrently. A refused
post (4xx) is dropped; an unreachable or failing ingress (5xx, 429, no answer) is tried again at
doubling intervals, then the receipt is dropped with a log line. Every receipt is counted once in
`parley_simulator_receipts_total{outcome}`. It is a simulator: receipts still queued when the
process stops are lost.

The outcome is the phone's (`simulated_handset`, read when the receipt is due): delivered unless
set to undelivered or failed (with an optional error code) or to none (no receipt).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import httpx
import structlog
from sqlalchemy.exc import SQLAlchemyError

from libs.common.config import Settings
from libs.common.observability import SIMULATOR_RECEIPTS
from libs.common.service import Ctx
from services.sender.carriers.simulator import client as simulator

log = structlog.get_logger("parley.sender.simulator")

QUEUE_LIMIT = 50_000  # 2,000 sends/s with a 0.5 s delay keep about 1,000 waiting
BATCH = 64  # posted concurrently, one connection each
TRIES = 4
TIMEOUT_S = 5.0
MIN_BACKOFF_S = 0.1
_STATE = "simulator.receipts"

Verdict = Literal["posted", "retry", "refused"]


@dataclass(frozen=True)
class Receipt:
    tenant_id: str
    phone: str
    message_id: str


@dataclass(order=True)
class Entry:
    due: float
    n: int
    receipt: Receipt = field(compare=False)
    tries: int = field(default=0, compare=False)


class ReceiptQueue:
    """Receipts waiting for their time (monotonic seconds), at most `limit` of them."""

    def __init__(self, delay_s: float, limit: int = QUEUE_LIMIT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.delay_s, self.limit, self._clock = delay_s, limit, clock
        self._heap: list[Entry] = []
        self._numbers = itertools.count()
        self._wake = asyncio.Event()
        self.dropping = False  # the last receipt offered found the queue full

    def __len__(self) -> int:
        return len(self._heap)

    def put(self, receipt: Receipt) -> bool:
        """Queue a new receipt, due after the delay; False (nothing queued) when full."""
        return self._push(Entry(self._clock() + self.delay_s, next(self._numbers), receipt))

    def again(self, entry: Entry) -> bool:
        """Queue a receipt whose post failed, after a backoff that doubles with each try; False
        when it has had all its tries (or the queue is full)."""
        if entry.tries >= TRIES:
            return False
        wait = max(self.delay_s, MIN_BACKOFF_S) * 2 ** (entry.tries - 1)
        return self._push(Entry(self._clock() + wait, next(self._numbers), entry.receipt, entry.tries))

    def _push(self, entry: Entry) -> bool:
        if len(self._heap) >= self.limit:
            return False
        heapq.heappush(self._heap, entry)
        self._wake.set()
        return True

    async def take(self, most: int) -> list[Entry]:
        """Wait until at least one receipt is due; up to `most` due ones, oldest first, each
        counted as one more try."""
        while True:
            wait = None
            if self._heap:
                wait = self._heap[0].due - self._clock()
                if wait <= 0:
                    return self._pop_due(most)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _pop_due(self, most: int) -> list[Entry]:
        now, got = self._clock(), []
        while self._heap and self._heap[0].due <= now and len(got) < most:
            entry = heapq.heappop(self._heap)
            entry.tries += 1
            got.append(entry)
        return got


# --- pure -----------------------------------------------------------------------------------------

def receipt_base(settings: Settings) -> str:
    """Where ingress is: PARLEY_SIMULATOR_RECEIPT_URL, else PARLEY_PUBLIC_BASE_URL, else this
    process's own port (the embedded suite serves ingress there)."""
    base = settings.simulator_receipt_url or settings.public_base_url
    if base:
        return base.rstrip("/")
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def status_url(base: str, tenant_id: str) -> str:
    return f"{base}/webhooks/simulator/{quote(tenant_id, safe='')}/status"


def payload(receipt: Receipt, outcome: tuple[str, str | None] | None) -> dict | None:
    """The status webhook's body for the phone's outcome; None when the phone wants no receipt."""
    status, code = outcome or (simulator.DEFAULT_RECEIPT, None)
    if status == "none":
        return None
    body = {"id": receipt.message_id, "to": receipt.phone, "status": status}
    if code:
        body["error_code"] = code
    return body


def verdict(status_code: int | None) -> Verdict:
    """What a post's answer means; None is no answer (refused connection, timeout)."""
    if status_code is not None and 200 <= status_code < 300:
        return "posted"
    if status_code is None or status_code == 429 or status_code >= 500:
        return "retry"
    return "refused"


# --- the queue and its loop --------------------------------------------------------------------

def receipt_queue(ctx: Ctx) -> ReceiptQueue | None:
    """This process's queue, or None when the simulator or its receipts are off."""
    s = ctx.settings
    if not (s.simulator and s.simulator_receipts):
        return None
    if _STATE not in ctx.state:
        ctx.state[_STATE] = ReceiptQueue(s.simulator_receipt_delay_s)
    return ctx.state[_STATE]


def expect(ctx: Ctx, receipt: Receipt) -> None:
    """Called right after a simulated send: never waits, never raises."""
    queue = receipt_queue(ctx)
    if queue is None:
        return
    if queue.put(receipt):
        queue.dropping = False
        return
    SIMULATOR_RECEIPTS.labels(outcome="dropped_full").inc()
    if not queue.dropping:  # one line per run of drops, not one per send
        queue.dropping = True
        log.warning("simulator_receipts_dropped", reason="queue full", limit=queue.limit)


async def receipt_loop(ctx: Ctx) -> None:
    queue = receipt_queue(ctx)
    if queue is None:
        return
    limits = httpx.Limits(max_connections=BATCH, max_keepalive_connections=BATCH)
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits, follow_redirects=False) as http:
        while True:
            try:
                await post_due(ctx, queue, http)
            except Exception as exc:  # that batch is lost; the loop must go on
                log.warning("simulator_receipt_loop_error", error=repr(exc))
                await asyncio.sleep(MIN_BACKOFF_S)


async def post_due(ctx: Ctx, queue: ReceiptQueue, http: httpx.AsyncClient) -> None:
    """Post one batch of due receipts (waiting for one to be due)."""
    batch = await queue.take(BATCH)
    try:
        async with ctx.sessions() as session:
            outcomes = await simulator.outcomes(session, {(e.receipt.tenant_id, e.receipt.phone)
                                                          for e in batch})
    except SQLAlchemyError as exc:  # the database is down: try these again later
        _settle(queue, [(e, "retry") for e in batch], f"database: {type(exc).__name__}")
        return
    base = receipt_base(ctx.settings)
    results = await asyncio.gather(*(
        _post(http, base, e, payload(e.receipt, outcomes.get((e.receipt.tenant_id, e.receipt.phone))))
        for e in batch))
    _settle(queue, list(zip(batch, (r[0] for r in results), strict=True)),
            next((r[1] for r in results if r[0] != "posted" and r[1]), None), base)


async def _post(http: httpx.AsyncClient, base: str, entry: Entry,
                body: dict | None) -> tuple[Verdict | Literal["none"], str | None]:
    if body is None:
        return "none", None
    try:
        resp = await http.post(status_url(base, entry.receipt.tenant_id), json=body)
    except httpx.HTTPError as exc:
        return verdict(None), f"{type(exc).__name__}: {exc}"[:200]
    return verdict(resp.status_code), (None if resp.is_success else f"{resp.status_code} {resp.text[:160]}")


def _settle(queue: ReceiptQueue, results: list[tuple[Entry, str]], problem: str | None,
            base: str | None = None) -> None:
    """Count each receipt's outcome; retry what may succeed later; one log line per batch."""
    dropped = refused = 0
    for entry, outcome in results:
        if outcome == "retry":
            if queue.again(entry):
                continue
            outcome, dropped = "dropped_unreachable", dropped + 1
        refused += outcome == "refused"
        SIMULATOR_RECEIPTS.labels(outcome=outcome).inc()
    if dropped or refused:
        log.warning("simulator_receipts_dropped", unreachable=dropped, refused=refused, url=base,
                    problem=problem, tries=TRIES)
