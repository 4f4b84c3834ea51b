"""Vonage's concatenated messages arrive part by part: published once, whole, in part order,
whatever the order and however often the parts come; a message whose part never comes is still
published after the wait."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from libs.common.events import sms_inbound
from services.ingress import concat
from services.ingress.tests.test_delivery import post

PHONE = "+447700900001"
WHOLE = "Hello this is a long message that the phone split into three parts on the way to Parley."
PARTS = ("inbound_concat_1.txt", "inbound_concat_2.txt", "inbound_concat_3.txt")


async def test_parts_out_of_order_and_repeated_make_one_whole_message(ingress, probe):
    _, client = ingress
    for name in (PARTS[2], PARTS[0], PARTS[2], PARTS[1], PARTS[0]):
        resp = await post(client, "vonage", "inbound", name)
        assert resp.status_code == 200, resp.text
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert [(e.body, e.segments, e.carrier_message_id) for e in events] == [
        (WHOLE, 3, "0A00000012345671")]


async def test_parts_arriving_together_still_complete_the_message(ingress, probe):
    _, client = ingress
    responses = await asyncio.gather(*(post(client, "vonage", "inbound", name) for name in PARTS))
    assert [r.status_code for r in responses] == [200, 200, 200]
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert [e.body for e in events] == [WHOLE]


async def test_a_message_missing_a_part_is_published_after_the_wait(ingress, probe):
    app, client = ingress
    ctx = app.state.ctx
    for name in (PARTS[0], PARTS[2]):
        assert (await post(client, "vonage", "inbound", name)).status_code == 200
    assert await concat.sweep(ctx) == 0  # still waiting

    real_clock = ctx.clock
    ctx.clock = lambda: real_clock() + concat.TIMEOUT + timedelta(seconds=1)
    try:
        assert await concat.sweep(ctx) == 1
        assert await concat.sweep(ctx) == 0  # published once
    finally:
        ctx.clock = real_clock
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert [e.body for e in events] == ["Hello this is a long message that the phone split to Parley."]


async def test_a_reused_reference_publishes_the_unfinished_message_first(ingress, probe):
    _, client = ingress
    assert (await post(client, "vonage", "inbound", PARTS[0])).status_code == 200
    reused = ("msisdn=447700900001&to=447700900000&messageId=0B0000001&text=New+start+&type=text"
              "&concat=true&concat-ref=108&concat-total=2&concat-part=1")
    ending = ("msisdn=447700900001&to=447700900000&messageId=0B0000002&text=and+end.&type=text"
              "&concat=true&concat-ref=108&concat-total=2&concat-part=2")
    for body in (reused, ending):
        assert (await post(client, "vonage", "inbound", body)).status_code == 200
    events = await probe.settle(sms_inbound.TOPIC, PHONE)
    assert [e.body for e in events] == ["Hello this is a long message that the phone split ",
                                        "New start and end."]
