"""Claim, publish, accept: no database connection is held while the bus is waited for, a bus known
to be down is a 503 at once, and a process that dies at any point between the phases loses
nothing: the carrier's retry publishes the message (twice at worst, with one event id), never zero
times. A crash is a `Crash` raised where the process would die: a BaseException, so no handler
of the code under test runs after it, as after kill -9."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text

from libs.common.db.models.ingress import InboundDedup, InboundPart
from libs.common.events import sms_inbound
from libs.common.ledgers import Ledger, prune_once
from libs.common.observability import WEBHOOKS_UNAVAILABLE
from libs.common.testing.app import eventually
from services.ingress import concat, dedup, delivery, store
from services.ingress.carriers.harness import TENANT
from services.ingress.group_commit import MAX_IN_FLIGHT
from services.ingress.intake import Accept, stable_id
from services.ingress.tests.test_concat import PARTS, PHONE, WHOLE
from services.ingress.tests.test_delivery import post

SENDER = "+15555550177"


class Crash(BaseException):
    """The process dies here."""


async def send(client, message_id: str, body: str = "YES"):
    return await client.post(f"/webhooks/simulator/{TENANT}/inbound", json={
        "from": SENDER, "to": "+15555550000", "body": body, "id": message_id})


def later(ctx, by: timedelta) -> None:
    """Move the app's clock forward."""
    clock = ctx.clock
    ctx.clock = lambda: clock() + by


def past_the_window(ctx) -> timedelta:
    return dedup.stale_after(ctx.settings.publish_timeout_s) + timedelta(seconds=1)


def unavailable(reason: str) -> float:
    return WEBHOOKS_UNAVAILABLE.labels(reason=reason)._value.get()


def published(events, message_id: str) -> list[tuple[str, str]]:
    return [(e.carrier_message_id, e.event_id) for e in events if e.carrier_message_id == message_id]


async def _async(value):
    return value


@pytest.fixture
def ctx(ingress):
    return ingress[0].state.ctx


@pytest.fixture
def client(ingress):
    return ingress[1]


async def test_while_the_bus_is_known_down_a_webhook_is_a_503_at_once_without_the_database(
        ctx, client, probe, monkeypatch):
    def no_database():
        raise AssertionError("a refused webhook used the database")

    with monkeypatch.context() as down:
        down.setattr(ctx.bus, "available", lambda: False)
        down.setattr(ctx, "sessions", no_database)
        before = unavailable("bus_down")
        responses = await asyncio.gather(*(send(client, f"down-{n}") for n in range(10)))
        assert {(r.status_code, r.headers["retry-after"], r.json()["code"]) for r in responses} == {
            (503, "5", "unavailable")}
        assert unavailable("bus_down") == before + 10
    assert (await send(client, "down-0")).status_code == 200  # the retry, once the bus is back
    assert published(await probe.settle(sms_inbound.TOPIC, SENDER), "down-0") == [
        ("down-0", stable_id(TENANT, "simulator", "down-0"))]


async def test_no_database_connection_is_held_while_the_bus_is_waited_for(ctx, client, probe,
                                                                           monkeypatch):
    real, waiting, release = ctx.bus.emit_many, [], asyncio.Event()

    async def slow(events):
        waiting.append(events)
        await release.wait()
        await real(events)

    monkeypatch.setattr(ctx.bus, "emit_many", slow)
    posts = [asyncio.create_task(send(client, f"slow-{n}")) for n in range(MAX_IN_FLIGHT + 1)]
    # A publish waits in every delivery slot at once (SQLite has one connection: a held one would
    # queue the rest), the webhook beyond them waits for a slot...
    await eventually(lambda: _async(len(waiting) == MAX_IN_FLIGHT))
    # ...with every connection back in the pool, so other work still gets one.
    await eventually(lambda: _async(ctx.engine.pool.checkedout() == 0), timeout=5)
    async with ctx.sessions() as session:
        assert await asyncio.wait_for(session.scalar(text("SELECT 1")), 10) == 1
    release.set()
    assert [r.status_code for r in await asyncio.gather(*posts)] == [200] * (MAX_IN_FLIGHT + 1)
    events = await probe.settle(sms_inbound.TOPIC, SENDER)
    assert sorted(e.carrier_message_id for e in events) == [f"slow-{n}" for n in range(MAX_IN_FLIGHT + 1)]


async def crash_before_publishing(real, events):
    raise Crash


async def crash_after_publishing(real, events):
    await real(events)
    raise Crash


@pytest.mark.parametrize("crash, copies", [
    (crash_before_publishing, 1), (crash_after_publishing, 2)], ids=["before", "after"])
async def test_a_crash_around_the_publish_is_published_by_the_retry_after_the_window(
        ctx, client, probe, monkeypatch, crash, copies):
    real = ctx.bus.emit_many
    with monkeypatch.context() as dying:
        dying.setattr(ctx.bus, "emit_many", lambda events: crash(real, events))
        with pytest.raises(Crash):
            await send(client, "crash-1")
    in_flight = await send(client, "crash-1")  # the claim is fresh: as if a copy were publishing
    assert (in_flight.status_code, in_flight.headers["retry-after"]) == (503, "5")

    later(ctx, past_the_window(ctx))
    assert (await send(client, "crash-1")).status_code == 200  # takes the claim over, publishes
    assert (await send(client, "crash-1")).status_code == 200  # accepted now: a duplicate
    # Never lost; a copy that reached the bus before the crash carries the same ids.
    assert published(await probe.settle(sms_inbound.TOPIC, SENDER), "crash-1") == [
        ("crash-1", stable_id(TENANT, "simulator", "crash-1"))] * copies


async def test_a_crash_in_the_accept_transaction_is_published_again_by_the_retry(
        ctx, client, probe, monkeypatch):
    async def crash(session, keys):
        raise Crash

    with monkeypatch.context() as dying:
        dying.setattr(store, "mark_accepted", crash)
        with pytest.raises(Crash):
            await send(client, "crash-2")
    later(ctx, past_the_window(ctx))
    assert (await send(client, "crash-2")).status_code == 200
    assert len(published(await probe.settle(sms_inbound.TOPIC, SENDER), "crash-2")) == 2


async def test_a_request_cancelled_while_publishing_is_published_by_the_retry(ctx, client, probe,
                                                                             monkeypatch):
    blocked = asyncio.Event()

    async def hang(events):
        blocked.set()
        await asyncio.Event().wait()

    with monkeypatch.context() as stuck:
        stuck.setattr(ctx.bus, "emit_many", hang)
        request = asyncio.create_task(send(client, "cancel-1"))
        await asyncio.wait_for(blocked.wait(), 20)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    assert (await send(client, "cancel-1")).status_code == 503
    later(ctx, past_the_window(ctx))
    assert (await send(client, "cancel-1")).status_code == 200
    assert len(published(await probe.settle(sms_inbound.TOPIC, SENDER), "cancel-1")) == 1


async def test_two_retries_racing_for_a_stale_claim_publish_once(ctx, client, probe, monkeypatch):
    with monkeypatch.context() as dying:
        dying.setattr(ctx.bus, "emit_many", lambda events: crash_before_publishing(None, events))
        with pytest.raises(Crash):
            await send(client, "race-1")
    later(ctx, past_the_window(ctx))
    responses = await asyncio.gather(*(send(client, "race-1") for _ in range(4)))
    assert 200 in {r.status_code for r in responses}
    assert {r.status_code for r in responses} <= {200, 503}
    assert len(published(await probe.settle(sms_inbound.TOPIC, SENDER), "race-1")) == 1


async def test_a_stale_claim_is_taken_over_once_and_a_late_failure_cannot_undo_the_take_over(ctx):
    key = (TENANT, "simulator", "slow-attempt")
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        assert await store.claim(session, key, "e1", now)
        assert not await store.claim(session, key, "e1", now)  # one claim per key
    async with ctx.sessions() as session, session.begin():
        assert await store.take_over(session, key, 0, now)  # a retry after the window
        assert not await store.take_over(session, key, 0, now)  # a second one, too late
        await store.mark_failed(session, [(key, 0)])  # the first attempt's publish fails late
        row = await store.dedup_row(session, key)
        assert (row.state, row.claim_epoch) == (dedup.PENDING, 1)
        await store.mark_failed(session, [(key, 1)])
        row = await store.dedup_row(session, key)
        assert (row.state, row.claim_epoch) == (dedup.FAILED, 1)


async def test_stale_claims_are_pruned_with_the_ledger(ctx):
    old = ctx.clock() - timedelta(days=ctx.settings.ledger_retention_days + 1)
    async with ctx.sessions() as session, session.begin():
        await session.execute(insert(InboundDedup.__table__), [
            {"tenant_id": TENANT, "carrier": "simulator", "carrier_message_id": f"old-{state}",
             "event_id": "e", "received_at": old, "state": state}
            for state in (dedup.PENDING, dedup.FAILED, dedup.ACCEPTED)])
    removed = await prune_once(ctx, [Ledger(InboundDedup.received_at)], ctx.clock())
    assert removed == {"inbound_dedup": 3}


# Concatenated parts: the completing part closes its group and publishes it with no transaction
# open; its retry, or the sweep, publishes a closed group a crash left.

async def post_part(client, n: int):
    return await post(client, "vonage", "inbound", PARTS[n])


async def parts_left(ctx) -> int:
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(InboundPart)
                                    .where(InboundPart.phone == PHONE))


@pytest.mark.parametrize("crash, copies", [
    (crash_before_publishing, 1), (crash_after_publishing, 2)], ids=["before", "after"])
async def test_a_crash_completing_a_concatenated_message_is_published_by_the_parts_retry(
        ctx, client, probe, monkeypatch, crash, copies):
    for n in (0, 1):
        assert (await post_part(client, n)).status_code == 200
    real = ctx.bus.emit_many
    with monkeypatch.context() as dying:
        dying.setattr(ctx.bus, "emit_many", lambda events: crash(real, events))
        with pytest.raises(Crash):
            await post_part(client, 2)
    assert await parts_left(ctx) == 3  # kept, closed, until the whole message is on the bus
    later(ctx, past_the_window(ctx))
    assert (await post_part(client, 2)).status_code == 200
    assert (await post_part(client, 2)).status_code == 200
    assert await parts_left(ctx) == 0
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert [(e.body, e.event_id) for e in events] == [
        (WHOLE, stable_id(TENANT, "vonage", "0A00000012345671"))] * copies


async def test_a_closed_group_whose_part_is_never_retried_is_published_by_the_sweep(
        ctx, client, probe, monkeypatch):
    for n in (0, 1):
        assert (await post_part(client, n)).status_code == 200
    with monkeypatch.context() as dying:
        dying.setattr(ctx.bus, "emit_many", lambda events: crash_before_publishing(None, events))
        with pytest.raises(Crash):
            await post_part(client, 2)
    assert await concat.sweep(ctx) == 0  # closed just now: the part's retry may still come
    later(ctx, concat.TIMEOUT + timedelta(seconds=1))
    assert await concat.sweep(ctx) == 1
    assert await concat.sweep(ctx) == 0
    assert [e.body for e in await probe.settle(sms_inbound.TOPIC, PHONE)] == [WHOLE]


async def test_the_sweep_waits_while_the_bus_is_known_down(ctx, client, monkeypatch):
    assert (await post_part(client, 0)).status_code == 200
    later(ctx, concat.TIMEOUT + timedelta(seconds=1))
    monkeypatch.setattr(ctx.bus, "available", lambda: False)
    assert await concat.sweep(ctx) == 0
    assert await parts_left(ctx) == 1


async def test_copies_of_one_message_in_one_call_are_claimed_once(ctx, probe):
    event = sms_inbound.InboundSms(tenant_id=TENANT, phone=SENDER, to="+15555550000", body="x",
                                   carrier="simulator", carrier_message_id="twice",
                                   event_id=stable_id(TENANT, "simulator", "twice"))
    accept = Accept(event, "twice")
    steps = await delivery.deliver(ctx, [accept, accept])
    assert [s.outcome for s in steps] == ["accepted", "duplicate"]
    assert len(published(await probe.settle(sms_inbound.TOPIC, SENDER), "twice")) == 1
