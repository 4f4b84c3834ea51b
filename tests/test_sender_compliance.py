"""The sender as the last line of compliance, across services: a STOP that lands while a marketing
message waits stops it; quiet hours follow each recipient's clock; a carrier's opt-out is told to
the router as a consent event and honoured at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.common.db.models.sender import CarrierOptOut, SimulatedMessage
from libs.common.testing.app import eventually
from libs.common.testing.consent import subscribe
from libs.common.testing.phone import Clock, Phone
from services.sender.deferred import run_due
from services.sender.tests.helpers import NUMBERS, count, listen, message, on_fake_carrier, send

# The tests send deferred messages with `run_due` after moving the clock, not the sender's loop.
pytestmark = pytest.mark.usefixtures("deferred_by_hand")

NEW_YORK, LOS_ANGELES, HONOLULU, UK = "+12125550123", "+13105550123", "+18085550123", "+447911123456"
NY_NIGHT = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)  # 02:30 New York, 23:30 LA, 21:30 Honolulu, 07:30 UK


async def delivered_to(ctx, phone: str) -> int:
    return await count(ctx, SimulatedMessage, SimulatedMessage.to_number == phone)


async def test_a_stop_after_a_marketing_message_was_queued_stops_it(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    ctx.clock = clock = Clock(NY_NIGHT)
    await subscribe(ctx, "acme", NEW_YORK)  # marketing needs a recorded opt-in
    queued = await send(client, tenant, NEW_YORK, "Flash sale! 30% off today")
    assert queued["status"] == "deferred" and queued["rule"] == "quiet_hours"

    phone = Phone(client, NEW_YORK)
    await phone.text("STOP")
    (confirmation,) = await phone.receive(1)  # compliance: not held by quiet hours
    assert "unsubscribed" in confirmation.lower() or "stop" in confirmation.lower()

    clock.now = datetime(2026, 11, 21, 13, tzinfo=UTC)  # 08:00 in New York: the window opens
    await run_due(ctx)
    after = await message(client, tenant, queued["id"])
    assert after["status"] == "suppressed" and after["rule"] == "consent"
    assert [h["status"] for h in after["history"]] == ["accepted", "deferred", "suppressed"]
    await phone.nothing_more()


async def test_a_stop_while_a_message_waits_for_its_rate_slot_stops_it(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    ctx.clock = clock = Clock(datetime(2026, 11, 20, 17, tzinfo=UTC))  # noon in New York
    resp = await client.post("/v1/numbers", headers=tenant, json={
        "number": "+15555550009", "carrier": "simulator", "rate_per_s": 1})
    assert resp.status_code == 201
    for number in ("+15555550100", NEW_YORK):
        await subscribe(ctx, "acme", number)
    first = await send(client, tenant, "+15555550100", "one", **{"from": "+15555550009"})
    second = await send(client, tenant, NEW_YORK, "two", **{"from": "+15555550009"})
    assert first["status"] == "sent" and (second["status"], second["rule"]) == ("deferred", "rate_limit")

    phone = Phone(client, NEW_YORK)
    await phone.text("STOP")
    await phone.receive(1)
    clock.advance(seconds=1)
    await run_due(ctx)
    assert (await message(client, tenant, second["id"]))["status"] == "suppressed"
    await phone.nothing_more()


async def test_quiet_hours_hold_marketing_until_each_recipients_morning(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    ctx.clock = clock = Clock(NY_NIGHT)
    opening = {UK: datetime(2026, 11, 21, 8, tzinfo=UTC), NEW_YORK: datetime(2026, 11, 21, 13, tzinfo=UTC),
               LOS_ANGELES: datetime(2026, 11, 21, 16, tzinfo=UTC),
               HONOLULU: datetime(2026, 11, 21, 18, tzinfo=UTC)}
    ids = {}
    for phone in opening:
        await subscribe(ctx, "acme", phone)
        sent = await send(client, tenant, phone, "Weekend sale starts now")
        assert sent["status"] == "deferred", sent
        assert sent["next_attempt_at"] == opening[phone].isoformat().replace("+00:00", "Z")
        ids[phone] = sent["id"]
    reply = await send(client, tenant, NEW_YORK, "Your order shipped", kind="transactional")
    assert reply["status"] == "sent"  # only marketing is held

    for phone, at in sorted(opening.items(), key=lambda item: item[1]):
        clock.now = at - timedelta(minutes=1)
        await run_due(ctx)
        assert (await message(client, tenant, ids[phone]))["status"] == "deferred", phone
        clock.now = at
        await run_due(ctx)
        got = await message(client, tenant, ids[phone])
        assert got["status"] == "sent" and got["sent_at"].startswith(at.strftime("%Y-%m-%dT%H:%M")), got
    assert await delivered_to(ctx, NEW_YORK) == 2


async def test_a_carrier_opt_out_is_published_as_a_consent_event_and_honoured_at_once(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    ctx.clock = Clock(datetime(2026, 11, 20, 17, tzinfo=UTC))
    consent_events = await listen(ctx, "subscriber.events")
    await subscribe(ctx, "acme", NEW_YORK)
    async with on_fake_carrier(app, client, tenant, "twilio") as fake:
        fake.opted_out.add(NEW_YORK)
        refused = await send(client, tenant, NEW_YORK, "Sale", **{"from": NUMBERS["twilio"]})
        again = await send(client, tenant, NEW_YORK, "Another sale", **{"from": NUMBERS["twilio"]})
        calls = len(fake.calls)
    assert (refused["status"], refused["rule"], refused["error_code"]) == (
        "failed", "carrier_opt_out", "21610")
    assert (again["status"], again["rule"]) == ("suppressed", "consent")
    # the sender's own record of the carrier's word, or the router's consent once it took the event in
    assert again["reason"] in ("the carrier reported an opt-out (twilio 21610)", "recipient opted out")
    assert calls == 1  # the second never reached the carrier

    async def consent_changed():
        return [e for e in consent_events if e.type == "consent_changed" and e.phone == NEW_YORK]

    (event,) = await eventually(consent_changed)
    assert (event.consent, event.reason) == ("opted_out", "carrier:21610")

    phone = Phone(client, NEW_YORK)
    await phone.text("HELP")  # compliance answers still reach the number
    (help_text,) = await phone.receive(1)
    assert "Acme Shoes" in help_text
    async with ctx.sessions() as session:
        marker = await session.get(CarrierOptOut, ("acme", NEW_YORK))
    assert (marker.carrier, marker.error_code) == ("twilio", "21610")
