"""Delivery receipts through ingress to the sender: a message moves forward only (a late "sent"
never overwrites "delivered"), a receipt that overtakes its send still applies, delivered messages
are published for scoring once, and a receipt saying the recipient opted out becomes a consent event."""

from __future__ import annotations

from libs.common.events.sms_status import StatusUpdate
from libs.common.testing.app import eventually
from libs.common.testing.consent import subscribe
from services.sender.tests.helpers import NUMBERS, listen, message, on_fake_carrier, send

PHONE = "+15555550100"


async def receipt(client, carrier_message_id: str, status: str, error_code: str | None = None) -> None:
    body = {"to": PHONE, "id": carrier_message_id, "status": status}
    if error_code:
        body["error_code"] = error_code
    resp = await client.post("/webhooks/simulator/acme/status", json=body)
    assert resp.status_code == 200, resp.text


async def test_receipts_move_a_message_forward_and_delivered_is_published_once(suite, tenant):
    app, client = suite
    facts = await listen(app.state.ctx, "sms.sent")
    sent = await send(client, tenant, PHONE, "Your order shipped", kind="transactional")
    cid = sent["carrier_message_id"]

    async def status_is(expected):
        got = await message(client, tenant, sent["id"])
        return got if got["delivery_status"] == expected else None

    assert sent["delivery_status"] == "queued"
    await receipt(client, cid, "delivered")  # overtook the carrier's "sent"
    got = await eventually(lambda: status_is("delivered"))
    assert got["delivered_at"] is not None
    await receipt(client, cid, "sent")  # late, out of order
    await app.state.ctx.bus.emit(StatusUpdate(tenant_id="acme", phone=PHONE, carrier="simulator",
                                              carrier_message_id=cid, status="delivered"))  # again

    async def ignored_twice():
        h = (await message(client, tenant, sent["id"]))["history"]
        return h if sum(1 for x in h if (x["reason"] or "").startswith("ignored")) == 2 else None

    history = await eventually(ignored_twice)
    assert [x["status"] for x in history][-3:] == ["receipt:delivered", "receipt:sent", "receipt:delivered"]
    assert (await message(client, tenant, sent["id"]))["delivery_status"] == "delivered"
    delivered = [f for f in facts if f.message_id == sent["id"] and f.outcome == "delivered"]
    assert len(delivered) == 1 and delivered[0].kind == "transactional"


async def test_a_receipt_that_overtakes_its_send_still_applies(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    async with on_fake_carrier(app, client, tenant, "twilio"):
        await ctx.bus.emit(StatusUpdate(tenant_id="acme", phone=PHONE, carrier="twilio",
                                        carrier_message_id="SM00000001", status="delivered"))

        async def parked():
            from libs.common.db.models.sender import PendingReceipt

            async with ctx.sessions() as session:
                return await session.get(PendingReceipt, ("acme", "twilio", "SM00000001"))

        await eventually(parked)
        sent = await send(client, tenant, PHONE, "Your code is 4321", kind="transactional",
                          **{"from": NUMBERS["twilio"]})
    assert sent["carrier_message_id"] == "SM00000001"
    assert sent["delivery_status"] == "delivered"
    assert await parked() is None


async def test_a_receipt_saying_the_recipient_opted_out_becomes_a_consent_event(suite, tenant):
    app, client = suite
    events = await listen(app.state.ctx, "subscriber.events")
    await subscribe(app.state.ctx, "acme", PHONE)
    sent = await send(client, tenant, PHONE, "Flash sale")
    await app.state.ctx.bus.emit(StatusUpdate(tenant_id="acme", phone=PHONE, carrier="simulator",
                                              carrier_message_id=sent["carrier_message_id"], status="failed",
                                              error_code="21610", recipient_opted_out=True))

    async def consent_event():
        return [e for e in events if e.type == "consent_changed" and e.reason == "carrier:21610"]

    (event,) = await eventually(consent_event)
    assert event.consent == "opted_out" and event.source_message_id == sent["carrier_message_id"]
    got = await message(client, tenant, sent["id"])
    assert (got["delivery_status"], got["error_code"]) == ("failed", "21610")
    later = await send(client, tenant, PHONE, "Another sale")
    assert later["status"] == "suppressed"


async def test_a_run_of_receipts_applied_together_moves_each_message_as_one_by_one(suite, tenant):
    """In order within the run: a message's later receipt sees its earlier one; a receipt for a
    send not recorded yet is kept, and the next one for it in the same run advances what was kept."""
    from libs.common.db.models.sender import PendingReceipt
    from services.sender.consumer import handle_statuses
    from services.sender.tests.helpers import count

    app, client = suite
    ctx = app.state.ctx
    sent = await send(client, tenant, PHONE, "Your order shipped", kind="transactional")
    cid = sent["carrier_message_id"]

    def status(carrier_message_id: str, value: str) -> StatusUpdate:
        return StatusUpdate(tenant_id="acme", phone=PHONE, carrier="simulator",
                            carrier_message_id=carrier_message_id, status=value)

    run = [status(cid, "sent"), status("SIM-later", "sent"), status(cid, "delivered"),
           status(cid, "sent"), status("SIM-later", "delivered")]
    facts = await handle_statuses(run, ctx)
    assert [(f.message_id, f.outcome) for f in facts] == [(sent["id"], "delivered")]
    got = await message(client, tenant, sent["id"])
    assert got["delivery_status"] == "delivered"
    ours = iter(x["status"] for x in got["history"])  # the simulator's own receipt may interleave
    assert all(step in ours for step in ("receipt:sent", "receipt:delivered", "receipt:sent"))
    assert await count(ctx, PendingReceipt, PendingReceipt.carrier_message_id == "SIM-later",
                       PendingReceipt.status == "delivered") == 1
