"""A carrier as Parley meets it: each subscriber's text is posted as a simulator inbound webhook
and, on a 5xx, a timeout or a connection error, posted again with the same message id after a
backoff (doubling, capped) until it is answered 2xx or a bound on its tries is reached. A 4xx is
final: the carrier drops the message. Every attempt is kept, with its wall-clock times."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.loadgen import KEEP_ALIVE_S

TIMEOUT_S = 10.0  # how long the carrier waits for an answer before it counts the try as failed


@dataclass(frozen=True)
class Attempt:
    sent_at: float  # wall clock
    status: str  # the HTTP status, "timeout", or "error <kind>" (refused, reset, closed)
    answered_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status.startswith("2")

    @property
    def retried(self) -> bool:
        return self.status == "timeout" or self.status.startswith(("error", "5"))


@dataclass
class Message:
    mid: str
    phone: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def accepted(self) -> Attempt | None:
        return next((a for a in self.attempts if a.ok), None)

    def statuses(self) -> Counter:
        return Counter(a.status for a in self.attempts)


def backoff_s(tries: int, first_s: float = 0.5, cap_s: float = 8.0) -> float:
    """The pause after the `tries`-th failed try."""
    return min(cap_s, first_s * 2 ** (tries - 1))


def phone(k: int) -> str:
    return f"+1415555{k % 10_000:04d}"


@dataclass
class Carrier:
    url: str  # the ingress webhook: .../webhooks/simulator/<tenant>/inbound
    to: str  # the tenant's number
    timeout_s: float = TIMEOUT_S
    give_up_s: float = 300.0  # no further try once this long has passed since the first
    body: str = "HELP"

    async def post(self, client: httpx.AsyncClient, message: Message) -> Attempt:
        sent_at = time.time()
        try:
            resp = await client.post(self.url, json={"from": message.phone, "to": self.to,
                                                      "body": self.body, "id": message.mid})
        except httpx.TimeoutException:
            return Attempt(sent_at, "timeout")
        except httpx.TransportError as exc:
            return Attempt(sent_at, f"error {type(exc).__name__}")
        return Attempt(sent_at, str(resp.status_code), time.time())

    async def deliver(self, client: httpx.AsyncClient, message: Message) -> Message:
        first = time.monotonic()
        while True:
            message.attempts.append(attempt := await self.post(client, message))
            if not attempt.retried or time.monotonic() - first > self.give_up_s:
                return message
            await asyncio.sleep(backoff_s(len(message.attempts)))

    async def stream(self, rate: float, until: asyncio.Event, limit: int, tag: str,
                     per_phone: int = 1) -> list[Message]:
        """New messages at `rate` per second until `until` is set or `limit` were sent; returns
        them once each is accepted or given up. Each phone sends `per_phone` of them one after
        another, the next once the one before is accepted or given up (a subscriber answering a
        reply), so ingress takes a phone's messages in the order they are listed."""
        messages: list[Message] = []
        tasks: list[asyncio.Task] = []
        # No bound on waiting for a pooled connection: only the service's answer is timed.
        timeout = httpx.Timeout(self.timeout_s, pool=None)
        # An idle connection is dropped before the server would close it, so no request is
        # written onto a connection the server is closing (a refusal that is the client's own).
        limits = httpx.Limits(max_connections=512, keepalive_expiry=KEEP_ALIVE_S)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            origin = time.monotonic()
            for k in range(max(1, limit // per_phone)):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(until.wait(),
                                           max(0.0, origin + k * per_phone / rate - time.monotonic()))
                if until.is_set():
                    break
                tasks.append(asyncio.create_task(self.converse(client, messages, f"{tag}-{k}", phone(k),
                                                               per_phone, until)))
            await asyncio.gather(*tasks)
        return messages

    async def converse(self, client: httpx.AsyncClient, messages: list[Message], mid: str, sender: str,
                       count: int, until: asyncio.Event) -> None:
        """`count` messages from one phone, each delivered once the one before is done; the first
        is `mid`, the next `mid.1`, `mid.2` …; none is begun once `until` is set."""
        for i in range(count):
            if i and until.is_set():
                return
            messages.append(message := Message(f"{mid}.{i}" if i else mid, sender))
            await self.deliver(client, message)
