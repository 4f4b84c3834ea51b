"""Outage or misconfiguration: which errors are waited out, and how a step is retried."""

from __future__ import annotations

import socket
import ssl

import asyncpg
import pytest
import structlog.testing
from aiokafka import errors as kafka_errors
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from libs.common.backoff import Backoff
from libs.common.bus import BusUnavailable
from libs.common.bus.kafka_security import KafkaSecurityError
from libs.common.config import Misconfigured
from libs.common.startup import BUS, DATABASE, Dependencies, outage, until_up


def wrapped(orig: Exception) -> DBAPIError:
    """What SQLAlchemy raises for an asyncpg error: the driver's error under .orig and __cause__."""
    try:
        raise orig
    except Exception as cause:
        try:
            raise DBAPIError("SELECT 1", None, cause) from cause
        except DBAPIError as exc:
            return exc


@pytest.mark.parametrize("exc, default, expected", [
    (ConnectionRefusedError(111, "Connect call failed"), DATABASE, DATABASE),
    (OSError("Multiple exceptions: [Errno 111] Connect call failed"), BUS, BUS),
    (socket.gaierror(-2, "Name or service not known"), DATABASE, DATABASE),
    (TimeoutError(), BUS, BUS),
    (wrapped(asyncpg.CannotConnectNowError("the database system is starting up")), BUS, DATABASE),
    (wrapped(asyncpg.AdminShutdownError("terminating connection due to administrator command")),
     BUS, DATABASE),
    (wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed")), BUS, DATABASE),
    (kafka_errors.KafkaConnectionError("Unable to bootstrap"), DATABASE, BUS),
    (kafka_errors.NodeNotReadyError(), DATABASE, BUS),
    (BusUnavailable("kafka did not take the event"), DATABASE, BUS),
], ids=["refused", "refused on every address", "name not resolved yet", "timeout", "starting up",
        "shutting down", "connection lost", "kafka bootstrap", "kafka node not ready", "publish timeout"])
def test_what_cannot_be_reached_yet_is_an_outage_of_its_dependency(exc, default, expected):
    assert outage(exc, default) == expected


@pytest.mark.parametrize("exc", [
    wrapped(asyncpg.InvalidPasswordError("password authentication failed")),
    wrapped(asyncpg.InvalidAuthorizationSpecificationError('role "x" does not exist')),
    wrapped(asyncpg.InvalidCatalogNameError('database "x" does not exist')),
    kafka_errors.SaslAuthenticationFailed(),
    KafkaSecurityError("PARLEY_KAFKA_SASL_USERNAME"),
    Misconfigured("wrong"),
    ssl.SSLCertVerificationError("certificate verify failed"),
    FileNotFoundError("/tls/ca.pem"),
    IntegrityError("INSERT", None, Exception("duplicate key")),
    OperationalError("SELECT", None, Exception("no such table: tenant")),
    ValueError("a bug"),
], ids=["wrong password", "unknown role", "no such database", "sasl refused", "sasl settings",
        "misconfigured", "certificate", "missing file", "integrity", "sqlite schema", "bug"])
def test_what_waiting_cannot_fix_is_not_an_outage(exc):
    assert outage(exc, DATABASE) is None


async def test_a_step_is_retried_through_an_outage_with_back_off_and_logged_once():
    failures = [ConnectionRefusedError(111, "refused")] * 4
    pauses: list[float] = []

    async def step():
        if failures:
            raise failures.pop()
        return "connected"

    async def sleep(s: float) -> None:
        pauses.append(s)

    deps = Dependencies()
    with structlog.testing.capture_logs() as logs:
        result = await until_up(step, deps, DATABASE, proves=True, backoff=Backoff(1.0, 4.0), sleep=sleep)
    assert result == "connected" and deps.states == {DATABASE: "ok", BUS: "waiting"}
    assert [0.5 <= pauses[0] <= 1.0, 1.0 <= pauses[1] <= 2.0, 2.0 <= pauses[2] <= 4.0,
            2.0 <= pauses[3] <= 4.0] == [True] * 4
    assert [(e["event"], e["dependency"]) for e in logs] == [("dependency_down", DATABASE),
                                                            ("dependency_up", DATABASE)]


async def test_the_state_names_the_reason_while_down():
    deps = Dependencies()

    async def step():
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    async def stop(_: float) -> None:
        raise RuntimeError("seen")

    with pytest.raises(RuntimeError):
        await until_up(step, deps, DATABASE, sleep=stop)
    assert deps.states[DATABASE] == "down: ConnectionRefusedError: [Errno 111] Connect call failed " \
                                    "('127.0.0.1', 5432)"
    assert deps.waiting_for().startswith("database (down: ConnectionRefusedError")


@pytest.mark.parametrize("wait", [True, False], ids=["waiting", "embedded: no waiting"])
async def test_a_misconfiguration_is_raised_at_once(wait):
    calls = []

    async def step():
        calls.append(1)
        raise (Misconfigured("PARLEY_KAFKA_SASL_PASSWORD") if wait else ConnectionRefusedError())

    with pytest.raises((Misconfigured, ConnectionRefusedError)):
        await until_up(step, Dependencies(), BUS, wait=wait)
    assert calls == [1]
