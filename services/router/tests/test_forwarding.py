"""Forwarding to a tenant's webhook: a real HTTP receiver on 127.0.0.1, signed bodies, retries,
and destinations that are refused before any connection is made.

Nothing here connects anywhere but 127.0.0.1: host names are resolved by stubs, and every other
connection goes to a recording network backend that opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import httpcore
import pytest
import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import REGISTRY
from sqlalchemy import select

from libs.common.db.models.router import OutgoingWebhook
from libs.common.service import close_ctx, open_ctx
from libs.common.testing.http import local_server
from libs.common.testing.phone import Clock
from services.router import forwarding, guarded_http


def receiver(received: list, fail_first: int = 0, redirect_to: str | None = None):
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        if redirect_to:
            return Response(status_code=307, headers={"location": redirect_to})
        return Response(status_code=500 if len(received) <= fail_first else 204)

    return app


class Network(httpcore.AsyncNetworkBackend):
    """Records every connection asked of it; opens real ones to 127.0.0.1 only."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self.tls: list[tuple[str | None, bool]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connects.append((host, port))
        if host == "127.0.0.1":
            return await self._real.connect_tcp(host, port, timeout, local_address, socket_options)
        return _NoStream(self)

    async def sleep(self, seconds):
        await self._real.sleep(seconds)


class _NoStream(httpcore.AsyncNetworkStream):
    def __init__(self, network: Network) -> None:
        self._network = network

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        self._network.tls.append((server_hostname, ssl_context.check_hostname))
        raise httpcore.ConnectError("no TLS in tests")

    async def read(self, max_bytes, timeout=None):
        raise httpcore.ReadError("no network in tests")

    async def write(self, buffer, timeout=None):
        raise httpcore.WriteError("no network in tests")

    async def aclose(self):
        pass


def resolver(answers: dict[str, list[str]], asked: list | None = None):
    async def resolve(host: str, port: int) -> list[str]:
        if asked is not None:
            asked.append(host)
        if host in answers:
            return answers[host]
        if host == "127.0.0.1":
            return [host]
        raise AssertionError(f"the test did not expect {host} to be resolved")

    return resolve


def client(ctx, *, allow_private: bool, answers=None, asked=None, network=None):
    ctx.settings.webhook_allow_private = allow_private
    return guarded_http.client(allow_private, resolver=resolver(answers or {}, asked),
                               network=network or Network(), timeout=2)


async def add_delivery(ctx, url, secret="s3cret", delivery_id="d1"):
    async with ctx.sessions() as session, session.begin():
        session.add(OutgoingWebhook(id=delivery_id, tenant_id="acme", url=url, secret=secret,
                                    payload={"phone": "+15555550100", "flow_id": "feedback"},
                                    status="pending", attempts=0, next_attempt_at=ctx.clock(),
                                    created_at=ctx.clock()))


async def row(ctx):
    async with ctx.sessions() as session:
        return await session.scalar(select(OutgoingWebhook))


def counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("parley_outgoing_webhooks_total", {"outcome": outcome}) or 0.0


@pytest.fixture
async def ctx(settings):
    """The database and bus of the test's profile, without the router's own forwarding loop."""
    ctx = await open_ctx(settings)
    ctx.clock = Clock(datetime(2026, 11, 20, tzinfo=UTC))
    try:
        yield ctx
    finally:
        await close_ctx(ctx)


async def test_a_delivery_is_signed_retried_with_backoff_and_then_delivered(ctx):
    clock = ctx.clock
    received: list = []
    async with local_server(receiver(received, fail_first=2)) as base, \
            client(ctx, allow_private=True) as http:
        await add_delivery(ctx, f"{base}/hook")
        assert await forwarding.deliver_due(ctx, http) == 1
        assert (await row(ctx)).status == "pending"
        assert await forwarding.deliver_due(ctx, http) == 0  # backing off: not due yet
        clock.advance(seconds=1)
        assert await forwarding.deliver_due(ctx, http) == 1  # second failure
        clock.advance(seconds=1)
        assert await forwarding.deliver_due(ctx, http) == 0  # now 2 s of backoff
        clock.advance(seconds=1)
        assert await forwarding.deliver_due(ctx, http) == 1
    delivered = await row(ctx)
    assert delivered.status == "delivered" and delivered.attempts == 3
    headers, body = received[-1]
    expected = hmac.new(b"s3cret", headers["x-parley-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["x-parley-signature"] == expected
    assert b'"phone":"+15555550100"' in body


async def test_an_unreachable_receiver_is_given_up_after_the_last_attempt(ctx):
    async with local_server(FastAPI()) as base:
        url = f"{base}/missing"  # 404 every time
    async with client(ctx, allow_private=True) as http:
        await add_delivery(ctx, url)
        for _ in range(forwarding.MAX_ATTEMPTS):
            ctx.clock.advance(hours=2)
            await forwarding.deliver_due(ctx, http)
    failed = await row(ctx)
    assert failed.status == "failed" and failed.attempts == forwarding.MAX_ATTEMPTS


REFUSED = [
    ("http://hooks.acme.com/x", {"hooks.acme.com": ["169.254.169.254"]},
     "hooks.acme.com resolves to 169.254.169.254 is a cloud metadata address"),
    ("https://hooks.acme.com/x", {"hooks.acme.com": ["93.184.216.34", "10.0.0.7"]},
     "hooks.acme.com resolves to 10.0.0.7 is a private address"),
    ("http://hooks.acme.com/x", {"hooks.acme.com": ["::ffff:127.0.0.1"]}, "(127.0.0.1) is a loopback"),
    ("http://hooks.acme.com/x", {"hooks.acme.com": ["fe80::1%2"]}, "is a link-local address"),
    ("http://hooks.acme.com/x", {"hooks.acme.com": ["0.0.0.0"]}, "is an unspecified address"),
    ("http://hooks.acme.com/x", {"hooks.acme.com": ["100.64.3.4"]}, "is a private address"),
    ("http://169.254.169.254/latest", {}, "169.254.169.254 is a cloud metadata address"),
    ("http://localhost:5432/", {}, "localhost is a loopback address"),
    ("https://u:p@hooks.acme.com/x", {}, "user name or password"),  # stored before the rules
]


@pytest.mark.parametrize("url, answers, reason", REFUSED, ids=[f"{r[0]} {r[1]}" for r in REFUSED])
async def test_a_refused_destination_fails_at_once_with_the_reason_and_is_never_connected(
        ctx, url, answers, reason):
    network = Network()
    before = counted("refused")
    with structlog.testing.capture_logs() as logs:
        async with client(ctx, allow_private=False, answers=answers, network=network) as http:
            await add_delivery(ctx, url)
            assert await forwarding.deliver_due(ctx, http) == 1
            ctx.clock.advance(hours=2)
            assert await forwarding.deliver_due(ctx, http) == 0  # never retried
    failed = await row(ctx)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert reason in failed.last_error
    assert network.connects == []
    assert counted("refused") == before + 1
    (line,) = [entry for entry in logs if entry["event"] == "webhook_refused"]
    assert line["tenant"] == "acme" and reason in line["reason"]


async def test_private_receivers_are_reached_only_with_the_setting(ctx):
    received: list = []
    async with local_server(receiver(received)) as base:
        url = base.replace("127.0.0.1", "hooks.acme.internal") + "/hook"
        answers = {"hooks.acme.internal": ["127.0.0.1"]}
        async with client(ctx, allow_private=False, answers=answers) as http:
            await add_delivery(ctx, url)
            await forwarding.deliver_due(ctx, http)
        assert (await row(ctx)).status == "failed" and received == []
        async with client(ctx, allow_private=True, answers=answers) as http:
            await add_delivery(ctx, url, delivery_id="d2")
            await forwarding.deliver_due(ctx, http)
    assert len(received) == 1


async def test_the_checked_address_is_the_one_connected_and_the_host_name_is_kept(ctx):
    """DNS rebinding: the name is resolved once per connection and that answer is used; a second
    lookup that would point elsewhere never happens."""
    received: list = []
    asked: list = []
    network = Network()
    async with local_server(receiver(received)) as base:
        port = int(base.rsplit(":", 1)[1])
        url = f"http://hooks.acme.internal:{port}/hook"
        async with client(ctx, allow_private=True, answers={"hooks.acme.internal": ["127.0.0.1"]},
                          asked=asked, network=network) as http:
            await add_delivery(ctx, url)
            await forwarding.deliver_due(ctx, http)
    done = await row(ctx)
    assert done.status == "delivered", done.last_error
    assert asked == ["hooks.acme.internal"]
    assert network.connects == [("127.0.0.1", port)]
    assert received[0][0]["host"] == f"hooks.acme.internal:{port}"


async def test_tls_is_verified_for_the_host_name_while_the_checked_address_is_connected(ctx):
    network = Network()
    async with client(ctx, allow_private=False, answers={"hooks.acme.com": ["93.184.216.34"]},
                      network=network) as http:
        await add_delivery(ctx, "https://hooks.acme.com/parley")
        await forwarding.deliver_due(ctx, http)
    assert network.connects == [("93.184.216.34", 443)]
    assert network.tls == [("hooks.acme.com", True)]
    assert (await row(ctx)).status == "pending"  # a failed attempt (no TLS here), retried


async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(ctx):
    received: list = []
    network = Network()
    async with local_server(receiver(received, redirect_to="http://169.254.169.254/latest")) as base:
        port = int(base.rsplit(":", 1)[1])
        async with client(ctx, allow_private=True, answers={"hooks.acme.internal": ["127.0.0.1"]},
                          network=network) as http:
            await add_delivery(ctx, f"http://hooks.acme.internal:{port}/hook")
            await forwarding.deliver_due(ctx, http)
    pending = await row(ctx)
    assert pending.status == "pending" and pending.attempts == 1
    assert pending.last_error == ("HTTP 307: redirects are not followed "
                                  "(to http://169.254.169.254/latest)")
    assert network.connects == [("127.0.0.1", port)] and len(received) == 1


async def test_a_placeholder_host_is_skipped_without_a_lookup_or_a_connection(ctx):
    network = Network()
    before = counted("skipped")
    with structlog.testing.capture_logs() as logs:
        async with client(ctx, allow_private=False, network=network) as http:  # resolves nothing
            await add_delivery(ctx, "https://support.example/hooks/parley")
            assert await forwarding.deliver_due(ctx, http) == 1
            ctx.clock.advance(hours=2)
            assert await forwarding.deliver_due(ctx, http) == 0
    skipped = await row(ctx)
    assert (skipped.status, skipped.attempts, skipped.last_error) == ("skipped", 1, "placeholder host")
    assert network.connects == [] and counted("skipped") == before + 1
    (line,) = [entry for entry in logs if entry["event"] == "webhook_skipped"]
    assert (line["reason"], line["host"], line["tenant"]) == ("placeholder host", "support.example", "acme")
