"""One send through a carrier client over a pooled httpx connection, with retries.

Retried, with exponential backoff and jitter: 429 and 5xx answers (Retry-After honoured), and
requests that never reached the carrier (connection refused or timed out). A request that was sent
but got no answer (read timeout, dropped connection) is repeated only when the carrier takes an
idempotency key; otherwise the outcome is unknown and it is reported `Failed(uncertain=True)`
rather than risk a second SMS. A wait longer than `max_wait_s`, or running out of tries, returns
`Retry` so that the caller defers the message instead of holding a consumer. The whole attempt is
bounded by `attempt_window` (httpx's timeouts are per phase, so a try alone could outlast one
timeout): after it, nothing this attempt sent can still be on its way, which is what makes a
lookup at the carrier (`find`) a safe answer to "did it go out?".
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import structlog

from services.sender.carriers.base import (
    Client,
    Credentials,
    Failed,
    Lookup,
    Outcome,
    Outgoing,
    Retry,
    Sought,
)

log = structlog.get_logger("parley.sender.carriers")

Sleep = Callable[[float], Awaitable[None]]

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
NO_ANSWER = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError,
             httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryPolicy:
    max_tries: int = 3
    base_s: float = 0.25
    cap_s: float = 2.0
    max_wait_s: float = 2.0  # longer waits are left to the deferred loop

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Equal jitter: half the exponential step, plus a random part of the other half."""
        step = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        return step / 2 + rand() * step / 2


DEFAULT_POLICY = RetryPolicy()


def attempt_window(timeout_s: float, policy: RetryPolicy = DEFAULT_POLICY) -> float:
    """The longest `deliver` runs, in seconds: every try at one carrier timeout, and the longest
    wait between tries (a longer one ends the attempt with `Retry`)."""
    return policy.max_tries * timeout_s + (policy.max_tries - 1) * policy.max_wait_s


def new_http_client(timeout_s: float) -> httpx.AsyncClient:
    """The process's pooled client: keep-alive connections to each carrier, bounded pool."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30),
        follow_redirects=False,
    )


async def _attempt(client: Client, msg: Outgoing, creds: Credentials, http: httpx.AsyncClient,
                   base_url: str) -> Outcome:
    request = client.build_request(msg, creds, base_url)
    try:
        response = await http.send(request)
    except NOT_SENT as exc:
        return Retry(f"{client.NAME} unreachable ({type(exc).__name__})")
    except NO_ANSWER as exc:
        if client.IDEMPOTENT:
            return Retry(f"{client.NAME} did not answer ({type(exc).__name__})")
        return Failed(f"{client.NAME} did not answer ({type(exc).__name__}); the outcome is unknown and "
                      "the request is not repeated, to never send twice", uncertain=True)
    return client.read_response(response)


@dataclass
class _Progress:
    trying: bool = False  # a request may be on its way
    last: Outcome = field(default_factory=lambda: Retry("not tried"))


def _cut_short(client: Client, progress: _Progress) -> Outcome:
    if not progress.trying:  # between tries: nothing is on its way
        return progress.last
    if client.IDEMPOTENT:
        return Retry(f"{client.NAME} took longer than the attempt window")
    return Failed(f"{client.NAME} took longer than the attempt window; the outcome is unknown and the "
                  "request is not repeated, to never send twice", uncertain=True)


async def deliver(client: Client, msg: Outgoing, creds: Credentials, *, http: httpx.AsyncClient,
                  base_url: str, sleep: Sleep = asyncio.sleep, policy: RetryPolicy = DEFAULT_POLICY,
                  deadline_s: float | None = None) -> Outcome:
    """Send `msg`; `Sent`, `Failed`, or `Retry` when the caller should try again later. With
    `deadline_s` (the attempt window), an attempt still running then is cut short."""
    progress = _Progress()
    try:
        async with asyncio.timeout(deadline_s):
            return await _tries(client, msg, creds, http, base_url, sleep, policy, progress)
    except TimeoutError:
        return _cut_short(client, progress)


async def _tries(client: Client, msg: Outgoing, creds: Credentials, http: httpx.AsyncClient, base_url: str,
                 sleep: Sleep, policy: RetryPolicy, progress: _Progress) -> Outcome:
    outcome: Outcome = Retry("not tried")
    for attempt in range(1, policy.max_tries + 1):
        progress.trying = True
        outcome = await _attempt(client, msg, creds, http, base_url)
        progress.trying, progress.last = False, outcome
        if not isinstance(outcome, Retry):
            return outcome
        wait = outcome.after if outcome.after is not None else policy.backoff(attempt)
        if attempt == policy.max_tries or wait > policy.max_wait_s:
            return Retry(outcome.reason, wait)
        log.info("carrier_retry", carrier=client.NAME, attempt=attempt, wait_s=round(wait, 3),
                 reason=outcome.reason)
        await sleep(wait)
    return outcome


async def find(client: Client, msg: Sought, creds: Credentials, *, http: httpx.AsyncClient,
               base_url: str) -> Lookup | None:
    """Search the carrier's message list for `msg` (one request); None when the carrier has no list
    to search. A list that cannot be reached or read in time is `Retry`: look again later."""
    request = client.build_lookup(msg, creds, base_url)
    if request is None:
        return None
    try:
        response = await http.send(request)
    except httpx.TransportError as exc:
        return Retry(f"{client.NAME}'s message list did not answer ({type(exc).__name__})")
    return client.read_lookup(response, msg)
