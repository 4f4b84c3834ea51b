"""The simulated carrier, on both profiles: a delivery receipt for every message it sends, posted to
ingress's status webhook over HTTP as a carrier would; an outcome per phone number; a handset log
(`/simulator/{tenant}/outbox`) that a reader walking `?after=` reads without a gap or a repeat, however
many sends run at once."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from libs.common.observability import SIMULATOR_RECEIPTS, WEBHOOKS
from libs.common.testing.app import eventually
from libs.common.testing.http import free_port, local_server
from libs.common.testing.profiles import profile_settings
from services.sender.carriers.simulator import client as simulator
from services.sender.carriers.simulator import receipts as simulated_receipts
from services.sender.tests.helpers import message, send

PHONE = "+15555550100"


@pytest.fixture
async def settings(profile, tmp_path):
    async with profile_settings(profile, tmp_path, simulator_receipts=True,
                                simulator_receipt_delay_s=0.05) as s:
        yield s


@pytest.fixture
async def served(suite):
    """The suite on a 127.0.0.1 port: the simulated carrier posts its receipts there."""
    app, client = suite
    async with local_server(app) as base:
        app.state.ctx.settings.simulator_receipt_url = base
        yield app, client


def _count(counter, **labels) -> float:
    return counter.labels(**labels)._value.get()


async def _status(client, headers, message_id: str, expected: str) -> dict | None:
    got = await message(client, headers, message_id)
    return got if got["delivery_status"] == expected else None


async def test_every_send_gets_a_delivered_receipt_through_the_status_webhook(served, tenant):
    _, client = served
    posted = _count(WEBHOOKS, carrier="simulator", kind="status", outcome="accepted")
    sent = await send(client, tenant, PHONE, "Your order shipped", kind="transactional")
    assert (sent["status"], sent["delivery_status"]) == ("sent", "queued")

    got = await eventually(lambda: _status(client, tenant, sent["id"], "delivered"))
    assert got["delivered_at"] is not None
    assert "receipt:delivered" in [h["status"] for h in got["history"]]
    assert _count(WEBHOOKS, carrier="simulator", kind="status", outcome="accepted") == posted + 1


async def test_a_phone_number_can_ask_for_an_undelivered_failed_or_no_receipt(served, tenant):
    _, client = served
    outcomes = {"+15555550101": {"receipt": "undelivered", "error_code": "30003"},
                "+15555550102": {"receipt": "failed"},
                "+15555550103": {"receipt": "none"}}
    for phone, outcome in outcomes.items():
        resp = await client.put(f"/simulator/acme/numbers/{phone}", json=outcome)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"phone": phone, "error_code": None, **outcome}
    assert (await client.get("/simulator/acme/numbers/+15555550103")).json()["receipt"] == "none"
    assert (await client.get(f"/simulator/acme/numbers/{PHONE}")).json() == {
        "phone": PHONE, "receipt": "delivered", "error_code": None}  # the default

    silent = await send(client, tenant, "+15555550103", "Order update", kind="transactional")
    undelivered = await send(client, tenant, "+15555550101", "Order update", kind="transactional")
    failed = await send(client, tenant, "+15555550102", "Order update", kind="transactional")
    delivered = await send(client, tenant, PHONE, "Order update", kind="transactional")

    got = await eventually(lambda: _status(client, tenant, undelivered["id"], "undelivered"))
    assert got["error_code"] == "30003"
    await eventually(lambda: _status(client, tenant, failed["id"], "failed"))
    await eventually(lambda: _status(client, tenant, delivered["id"], "delivered"))
    # Receipts are posted in the order of their sends: by now the silent number's turn has passed.
    assert (await message(client, tenant, silent["id"]))["delivery_status"] == "queued"


@pytest.mark.parametrize("phone, body, field", [
    (PHONE, {"receipt": "lost"}, "receipt"),
    (PHONE, {"receipt": "delivered", "error_code": "30003"}, "error_code"),
    (PHONE, {"receipt": "failed", "error_code": "x" * 40}, "error_code"),
    (PHONE, {"receipt": "failed", "colour": "red"}, "colour"),
    ("not-a-number", {"receipt": "failed"}, "phone"),
])
async def test_a_bad_outcome_is_a_422_naming_the_field(suite, tenant, phone, body, field):
    _, client = suite
    resp = await client.put(f"/simulator/acme/numbers/{phone}", json=body)
    assert resp.status_code == 422, resp.text
    assert field in resp.text


async def test_sends_go_on_while_ingress_is_unreachable_and_the_receipts_are_dropped(suite, tenant):
    app, client = suite
    app.state.ctx.settings.simulator_receipt_url = f"http://127.0.0.1:{free_port()}"  # nobody there
    dropped = _count(SIMULATOR_RECEIPTS, outcome="dropped_unreachable")
    sent = [await send(client, tenant, PHONE, f"Update {i}", kind="transactional") for i in range(3)]
    assert [s["status"] for s in sent] == ["sent"] * 3

    async def all_dropped():
        return _count(SIMULATOR_RECEIPTS, outcome="dropped_unreachable") >= dropped + 3

    await eventually(all_dropped)
    for s in sent:
        assert (await message(client, tenant, s["id"]))["delivery_status"] == "queued"


async def test_nothing_is_queued_when_receipts_are_switched_off(profile, tmp_path, admin_headers):
    from libs.common.testing.app import running
    from services.embedded import all_services

    async with profile_settings(profile, tmp_path, simulator_receipts=False) as s, \
            running(all_services(), s) as (app, client):
        resp = await client.post("/v1/tenants", headers=admin_headers,
                                 json={"id": "acme", "name": "Acme", "brand": "Acme Shoes"})
        headers = {"Authorization": f"Bearer {resp.json()['api_key']}"}
        resp = await client.post("/v1/numbers", headers=headers,
                                 json={"number": "+15555550000", "carrier": "simulator"})
        assert resp.status_code == 201, resp.text
        assert (await send(client, headers, PHONE, "Hi", kind="transactional"))["status"] == "sent"
        assert simulated_receipts.receipt_queue(app.state.ctx) is None
        assert not [v for v in app.state.ctx.state.values()
                    if isinstance(v, simulated_receipts.ReceiptQueue)]


# --- the handset log --------------------------------------------------------------------------

async def test_concurrent_sends_are_each_read_exactly_once_walking_after(suite, tenant):
    """Sends commit in any order (the pause inside each transaction stands for a slow commit); a
    reader following `?after=<last seq>` meanwhile must still see every message once."""
    app, client = suite
    ctx = app.state.ctx
    ids = [uuid.uuid4().hex for _ in range(150)]
    gate = asyncio.Semaphore(12)

    async def one(message_id: str) -> None:
        async with gate, ctx.sessions() as session, session.begin():
            await simulator.send(session, message_id=message_id, tenant_id="acme",
                                 from_number="+15555550000", to=PHONE, body=message_id, segments=1,
                                 now=ctx.clock())
            await asyncio.sleep(random.random() * 0.02)

    seen: list[dict] = []

    async def walk() -> None:
        after = seen[-1]["seq"] if seen else 0
        resp = await client.get("/simulator/acme/outbox", params={"after": after})
        assert resp.status_code == 200, resp.text
        seen.extend(resp.json())

    sends = asyncio.gather(*(one(i) for i in ids))
    while not sends.done():
        await walk()
        await asyncio.sleep(0.005)
    await sends
    await walk()
    assert sorted(m["id"] for m in seen) == sorted(ids)  # each once: none missed, none repeated
    seqs = [m["seq"] for m in seen]
    assert seqs == sorted(set(seqs))


async def test_a_repeated_send_of_one_message_is_stored_once(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    for _ in range(2):
        async with ctx.sessions() as session, session.begin():
            await simulator.send(session, message_id="m-1", tenant_id="acme", from_number="+15555550000",
                                 to=PHONE, body="hi", segments=1, now=ctx.clock())
    async with ctx.sessions() as session, session.begin():
        rows = await simulator.outbox(session, "acme", None)
    assert [r.id for r in rows] == ["m-1"]


async def test_the_outbox_and_outcomes_of_an_unknown_tenant_are_404(suite, tenant):
    _, client = suite
    for resp in (await client.get("/simulator/nobody/outbox"),
                 await client.get("/simulator/nobody/outbox", params={"to": PHONE}),
                 await client.get(f"/simulator/nobody/numbers/{PHONE}"),
                 await client.put(f"/simulator/nobody/numbers/{PHONE}", json={"receipt": "failed"})):
        assert resp.status_code == 404, resp.text
        assert "nobody" in resp.json()["detail"]
    assert (await client.get("/simulator/acme/outbox")).json() == []


# --- the embedded demo --------------------------------------------------------------------------

@pytest.fixture
async def demo(profile, tmp_path):
    """`parley run` as it starts: the demo tenant, receipts on, served on a local port."""
    from libs.common.testing.app import running
    from services.embedded import all_services

    async with profile_settings(profile, tmp_path, demo=True, simulator_receipts=True,
                                simulator_receipt_delay_s=0.05) as s, \
            running(all_services(), s) as (app, client), local_server(app) as base:
        s.simulator_receipt_url = base
        yield app, client


async def test_after_a_demo_conversation_the_metrics_show_deliveries_and_a_reply_rate(demo):
    from libs.common.testing.phone import Phone

    app, client = demo
    headers = {"Authorization": f"Bearer {app.state.ctx.state['demo_api_key']}"}
    phone = Phone(client, PHONE, tenant="demo")
    await phone.text("SHOP")
    assert "Reply 1 for Shoes" in (await phone.receive())[0]
    await phone.text("2")
    assert "bags" in (await phone.receive())[0]

    async def metrics():
        resp = await client.get("/v1/metrics", headers=headers)
        assert resp.status_code == 200, resp.text
        (total,) = resp.json()["groups"]
        return total if total["delivered"] >= 2 and total["reply_rate"] is not None else None

    total = await eventually(metrics)
    assert total["reply_rate"] > 0 and total["opt_out_rate"] == 0
