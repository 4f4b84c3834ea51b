"""Bringing a service up while its database or broker may not answer yet, and telling an outage
(wait for it) from a misconfiguration (exit, naming the setting).

A dependency that does not answer (connection refused, a host name that does not resolve yet, a
PostgreSQL that is starting up or shutting down, a broker that cannot be bootstrapped) is waited
for: the step is tried again with capped exponential back-off and jitter, and the log gets one
line when a dependency goes down and one when it is back, never one per attempt. Anything else (a
wrong password, a database that does not exist, a migration that fails, a bug) is raised: waiting
cannot fix it. `outage()` is also what the consumers use to tell "the database is down, deliver
this event again later" from "this event fails".
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg
import structlog
from aiokafka import errors as kafka_errors
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from libs.common.backoff import DEPENDENCY, Backoff
from libs.common.bus.base import BusUnavailable
from libs.common.config import Misconfigured

log = structlog.get_logger("parley.startup")

T = TypeVar("T")

DATABASE, BUS, CONSUMERS = "database", "bus", "consumers"

# Waiting cannot fix these: credentials, names and certificates are configuration.
_MISCONFIGURED = (
    Misconfigured,
    asyncpg.InvalidAuthorizationSpecificationError,  # wrong password, unknown role
    asyncpg.InvalidCatalogNameError,  # the database does not exist
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.GroupAuthorizationFailedError,
    kafka_errors.TopicAuthorizationFailedError,
    ssl.SSLCertVerificationError,
)
_DATABASE_DOWN = (
    asyncpg.PostgresConnectionError,  # class 08, and a connection lost mid-query
    asyncpg.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    PoolTimeout,
)
_BUS_DOWN = (BusUnavailable, kafka_errors.KafkaTimeoutError)
# OSErrors that are about files, not the network.
_NOT_NETWORK = (ssl.SSLError, FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
                NotADirectoryError)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: SQLAlchemy's `.orig`, and causes and contexts."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]


def outage(exc: BaseException, default: str) -> str | None:
    """The dependency `exc` says cannot be reached (`default` when the error does not say which:
    a refused connection), or None when it is not an outage."""
    chain = list(_chain(exc))
    if any(isinstance(e, _MISCONFIGURED) for e in chain):
        return None
    for e in chain:
        if isinstance(e, _BUS_DOWN) or (isinstance(e, kafka_errors.KafkaError) and e.retriable):
            return BUS
        if isinstance(e, _DATABASE_DOWN) or (isinstance(e, DBAPIError) and e.connection_invalidated):
            return DATABASE
    for e in chain:
        if isinstance(e, (TimeoutError, socket.gaierror)) or (
                isinstance(e, OSError) and not isinstance(e, _NOT_NETWORK)):
            return default
    return None


def describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip()
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


class Dependencies:
    """Each dependency's state while the service comes up: "waiting", "ok" or "down: <reason>".
    It is what /readyz answers until the service is ready, and each change is logged once."""

    def __init__(self, names: tuple[str, ...] = (DATABASE, BUS)) -> None:
        self.states: dict[str, str] = dict.fromkeys(names, "waiting")
        self._down_since: dict[str, float] = {}

    def down(self, name: str, exc: BaseException) -> None:
        reason = describe(exc)
        if name not in self._down_since:
            self._down_since[name] = time.monotonic()
            log.warning("dependency_down", dependency=name, reason=reason,
                        action="waiting for it, retrying with back-off")
        self.states[name] = f"down: {reason}"

    def up(self, name: str) -> None:
        since = self._down_since.pop(name, None)
        if since is not None:
            log.info("dependency_up", dependency=name, waited_s=round(time.monotonic() - since, 1))
        self.states[name] = "ok"

    def waiting_for(self) -> str:
        pending = [f"{name} ({state})" for name, state in self.states.items() if state != "ok"]
        return ", ".join(pending) or "the services to start"


async def until_up(step: Callable[[], Awaitable[T]], deps: Dependencies, dependency: str, *,
                   proves: bool = False, wait: bool = True, backoff: Backoff = DEPENDENCY,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> T:
    """Run `step` until it succeeds, waiting out outages of `dependency` (or whichever the error
    names); anything that is not an outage is raised at once, as is every error with `wait=False`.
    With `proves`, success marks `dependency` up; otherwise only what this step saw down."""
    attempt, seen_down = 0, set()
    while True:
        try:
            result = await step()
        except Exception as exc:
            name = outage(exc, dependency) if wait else None
            if name is None:
                raise
            attempt += 1
            seen_down.add(name)
            deps.down(name, exc)
            await sleep(backoff.delay(attempt))
            continue
        for name in seen_down | ({dependency} if proves else set()):
            deps.up(name)
        return result
