"""Group commit: webhooks that arrive while deliveries are busy go out together, each still
answered only once its own event is on the bus, each published once; a failed group is a 503 for
every webhook in it, and the carrier's retries are accepted once each."""

from __future__ import annotations

import asyncio

from libs.common.bus import BusUnavailable
from libs.common.events import sms_inbound
from libs.common.testing.app import eventually
from services.ingress.carriers.harness import read_payload
from services.ingress.group_commit import MAX_IN_FLIGHT, group_commit
from services.ingress.tests.test_delivery import post

PHONE = "+14133881111"
N = 40


def message(i: int) -> str:
    """The Twilio inbound fixture as message `i`: its own MessageSid and body."""
    sid = f"SM{i:032x}"
    return (read_payload("twilio", "inbound_sms.txt").replace("SMe287d7109a5a925f182f0e07fe5b223b", sid)
            .replace("Body=Msg", f"Body=Msg+{i}"))


def held(bus, calls: list[int], gate: asyncio.Event, fail: bool = False):
    """The bus's emit_many recording each call's size and waiting for `gate` (a busy broker), so
    the webhooks arriving meanwhile queue for a delivery slot."""
    real = bus.emit_many

    async def emit_many(events, *args, **kwargs):
        calls.append(len(events))
        await gate.wait()
        if fail:
            raise BusUnavailable("broker down")
        return await real(events, *args, **kwargs)

    return emit_many


async def _true(value: bool) -> bool:
    return value


async def slots_busy_then(ctx, calls: list[int], gate: asyncio.Event, first: list, then: list) -> list:
    """Post `first` (one per delivery slot) and, once each of them is publishing, `then`; once all
    of `then` wait for a slot, open the gate. The answers, in order."""
    assert len(first) == MAX_IN_FLIGHT
    tasks = [asyncio.create_task(p) for p in first]
    await eventually(lambda: _true(len(calls) == MAX_IN_FLIGHT))
    tasks += [asyncio.create_task(p) for p in then]
    await eventually(lambda: _true(sum(len(w.accepts) for w in group_commit(ctx).queue) == len(then)))
    gate.set()
    return await asyncio.gather(*tasks)


def messages(client, ids) -> list:
    return [post(client, "twilio", "inbound", message(i)) for i in ids]


async def test_concurrent_webhooks_share_produces_and_each_is_published_once(ingress, probe,
                                                                             monkeypatch):
    app, client = ingress
    ctx, calls, gate = app.state.ctx, [], asyncio.Event()
    monkeypatch.setattr(ctx.bus, "emit_many", held(ctx.bus, calls, gate))
    responses = await slots_busy_then(ctx, calls, gate, messages(client, range(MAX_IN_FLIGHT)),
                                      messages(client, range(MAX_IN_FLIGHT, N)))
    assert [r.status_code for r in responses] == [200] * N
    assert sum(calls) == N  # every event in exactly one produce
    assert calls[:MAX_IN_FLIGHT] == [1] * MAX_IN_FLIGHT  # those that found a free slot went alone
    assert len(calls) <= 2 * MAX_IN_FLIGHT  # the ones that waited went together
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert sorted(e.body for e in events) == sorted(f"Msg {i}" for i in range(N))


async def test_a_group_whose_publish_fails_is_a_503_for_each_webhook_and_each_retry_is_accepted(
        ingress, probe, monkeypatch):
    app, client = ingress
    ctx, calls, gate = app.state.ctx, [], asyncio.Event()
    monkeypatch.setattr(ctx.bus, "emit_many", held(ctx.bus, calls, gate, fail=True))
    responses = await slots_busy_then(ctx, calls, gate, messages(client, range(MAX_IN_FLIGHT)),
                                      messages(client, range(MAX_IN_FLIGHT, N)))
    assert {r.status_code for r in responses} == {503}
    assert all(r.headers["retry-after"] for r in responses)
    assert max(calls) > 1  # the failure reached whole groups

    monkeypatch.undo()
    retries = await asyncio.gather(*(post(client, "twilio", "inbound", message(i)) for i in range(N)))
    assert [r.status_code for r in retries] == [200] * N
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert sorted(e.body for e in events) == sorted(f"Msg {i}" for i in range(N))


async def test_copies_of_one_message_in_one_group_are_published_once_and_all_answered_2xx(
        ingress, probe, monkeypatch):
    app, client = ingress
    ctx, calls, gate = app.state.ctx, [], asyncio.Event()
    monkeypatch.setattr(ctx.bus, "emit_many", held(ctx.bus, calls, gate))
    # The first deliveries fill every slot; the copies then wait together and form one group.
    responses = await slots_busy_then(ctx, calls, gate, messages(client, range(MAX_IN_FLIGHT)),
                                      messages(client, [99] * 5))
    assert [r.status_code for r in responses] == [200] * (MAX_IN_FLIGHT + 5)
    assert calls == [1] * MAX_IN_FLIGHT + [1]  # the five copies: one claim, one event
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert sorted(e.body for e in events) == sorted([f"Msg {i}" for i in range(MAX_IN_FLIGHT)] + ["Msg 99"])
