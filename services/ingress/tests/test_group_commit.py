"""Group commit: webhooks that arrive while deliveries are busy go out together, each still
answered only once its own event is on the bus, each published once; a failed group is a 503 for
every webhook in it, and the carrier's retries are accepted once each."""

from __future__ import annotations

import asyncio

from libs.common.bus import BusUnavailable
from libs.common.events import sms_inbound
from services.ingress.carriers.harness import read_payload
from services.ingress.group_commit import MAX_IN_FLIGHT
from services.ingress.tests.test_delivery import post

PHONE = "+14133881111"
N = 40


def message(i: int) -> str:
    """The Twilio inbound fixture as message `i`: its own MessageSid and body."""
    sid = f"SM{i:032x}"
    return (read_payload("twilio", "inbound_sms.txt").replace("SMe287d7109a5a925f182f0e07fe5b223b", sid)
            .replace("Body=Msg", f"Body=Msg+{i}"))


def slowed(bus, calls: list[int], fail: bool = False):
    """The bus's emit_many, recording each call's size and taking a while (a busy broker), so
    webhooks arriving meanwhile queue for a delivery slot."""
    real = bus.emit_many

    async def emit_many(events, *args, **kwargs):
        calls.append(len(events))
        await asyncio.sleep(0.05)
        if fail:
            raise BusUnavailable("broker down")
        return await real(events, *args, **kwargs)

    return emit_many


async def test_concurrent_webhooks_share_produces_and_each_is_published_once(ingress, probe,
                                                                             monkeypatch):
    app, client = ingress
    calls: list[int] = []
    monkeypatch.setattr(app.state.ctx.bus, "emit_many", slowed(app.state.ctx.bus, calls))
    responses = await asyncio.gather(*(post(client, "twilio", "inbound", message(i)) for i in range(N)))
    assert [r.status_code for r in responses] == [200] * N
    assert sum(calls) == N  # every event in exactly one produce
    assert len(calls) < N - MAX_IN_FLIGHT  # and most of them shared one
    assert max(calls) > 1
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert sorted(e.body for e in events) == sorted(f"Msg {i}" for i in range(N))


async def test_a_group_whose_publish_fails_is_a_503_for_each_webhook_and_each_retry_is_accepted(
        ingress, probe, monkeypatch):
    app, client = ingress
    bus = app.state.ctx.bus
    calls: list[int] = []
    monkeypatch.setattr(bus, "emit_many", slowed(bus, calls, fail=True))
    responses = await asyncio.gather(*(post(client, "twilio", "inbound", message(i)) for i in range(N)))
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
    calls: list[int] = []
    monkeypatch.setattr(app.state.ctx.bus, "emit_many", slowed(app.state.ctx.bus, calls))
    # The first deliveries fill every slot; the copies then arrive together and form one group.
    first = [asyncio.create_task(post(client, "twilio", "inbound", message(i)))
             for i in range(MAX_IN_FLIGHT)]
    await asyncio.sleep(0.01)
    copies = await asyncio.gather(*(post(client, "twilio", "inbound", message(99)) for _ in range(5)))
    assert [r.status_code for r in await asyncio.gather(*first)] == [200] * MAX_IN_FLIGHT
    assert [r.status_code for r in copies] == [200] * 5
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert sorted(e.body for e in events) == sorted([f"Msg {i}" for i in range(MAX_IN_FLIGHT)] + ["Msg 99"])
