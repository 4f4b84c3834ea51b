"""Profiles from events and over REST: counters, interactions, consent, labels and attributes;
every event applied once however often it is delivered, in whichever order topics deliver."""

from __future__ import annotations

import pytest

from libs.common.events.base import new_id
from services.segmentation.consumer import handle_events
from services.segmentation.tests.helpers import (
    at,
    click,
    delivered,
    fact,
    feed,
    reply,
    sent,
    verdict,
)

P = "+15555550701"


async def profile(client, headers, phone=P):
    resp = await client.get(f"/v1/subscribers/{phone}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def metrics(client, headers):
    resp = await client.get("/v1/metrics", headers=headers,
                            params={"start": at(-60).isoformat(), "end": at(0, days=1).isoformat()})
    return resp.json()["groups"][0]


def a_log():
    m = sent(P, at(0))
    inbound = reply(P, at(10))
    return [m, delivered(m, at(1)), inbound, verdict(inbound, "YES"), click(P, at(20), m, code="k"),
            fact(P, at(21), "label_applied", label="Interest:Shoes"),
            fact(P, at(22), "attribute_set", attribute="city", value="Paris"),
            fact(P, at(23), "consent_changed", consent="opted_in")]


async def test_a_profile_holds_counts_interactions_consent_labels_and_attributes(suite, tenant, ctx):
    _, client = suite
    await feed(ctx, *a_log())
    got = await profile(client, tenant)
    assert (got["replies"], got["clicks"], got["messages_received"]) == (1, 1, 1)
    assert got["first_interaction_at"] == at(10).isoformat().replace("+00:00", "Z")
    assert got["last_interaction_at"] == at(20).isoformat().replace("+00:00", "Z")
    assert got["consent"] == "opted_in" and got["score"] == 1 + 8 + 5
    assert got["labels"] == ["interest:shoes"] and got["attributes"] == {"city": "Paris"}


async def test_every_event_delivered_twice_changes_nothing_the_second_time(suite, tenant, ctx):
    _, client = suite
    log = a_log()
    await feed(ctx, *log)
    once = (await profile(client, tenant), await metrics(client, tenant))
    await feed(ctx, *log)
    assert (await profile(client, tenant), await metrics(client, tenant)) == once


async def test_a_receipt_that_overtakes_its_send_still_counts(suite, tenant, ctx):
    _, client = suite
    m = sent(P, at(0))
    await feed(ctx, delivered(m, at(1)), m)
    assert (await metrics(client, tenant))["delivered"] == 1
    assert (await profile(client, tenant))["score"] == 1


async def test_a_delivery_reported_by_both_the_receipt_and_the_sender_counts_once(suite, tenant, ctx):
    _, client = suite
    m, early = sent(P, at(0)), sent(P, at(0))
    verdict_of = {"outcome": "delivered", "event_id": "sender-verdict"}
    await feed(ctx, m, m.model_copy(update={**verdict_of, "occurred_at": at(2)}),
               delivered(m, at(1)),
               early.model_copy(update={**verdict_of, "event_id": "early-verdict"}), early)
    assert (await metrics(client, tenant))["delivered"] == 2
    assert (await profile(client, tenant))["score"] == 2


async def test_a_send_published_again_after_a_crash_counts_once(suite, tenant, ctx):
    _, client = suite
    m = sent(P, at(0), "m-crash")
    again = m.model_copy(update={"event_id": "another-event-id"})
    await feed(ctx, m, again, delivered(m, at(1)))
    assert (await profile(client, tenant))["messages_received"] == 1
    assert (await metrics(client, tenant))["delivered"] == 1


async def test_bot_clicks_count_for_nothing(suite, tenant, ctx):
    _, client = suite
    m = sent(P, at(0))
    await feed(ctx, m, click(P, at(5), m, is_bot=True))
    got = await profile(client, tenant)
    assert got["clicks"] == 0 and got["score"] == 0 and got["last_interaction_at"] is None


async def test_labels_and_attributes_come_and_go_by_event(suite, tenant, ctx):
    _, client = suite
    await feed(ctx, fact(P, at(0), "label_applied", label="intent:deal"),
               fact(P, at(1), "label_applied", label="has spaces"),     # not a label: ignored
               fact(P, at(2), "attribute_set", attribute="size", value="42"),
               fact(P, at(3), "label_removed", label="intent:deal"),
               fact(P, at(4), "attribute_set", attribute="size", value=None))
    got = await profile(client, tenant)
    assert got["labels"] == [] and got["attributes"] == {}


async def test_a_log_applied_as_one_batch_gives_the_profile_it_gives_event_by_event(suite, tenant, ctx):
    _, client = suite
    await feed(ctx, *a_log())
    other = "+15555550702"
    batch = [e.model_copy(update={"phone": other, "event_id": new_id()}) for e in a_log()]
    await handle_events(batch + batch[:3], ctx)  # redelivered within the run: applied once
    one_by_one, batched = await profile(client, tenant), await profile(client, tenant, other)
    assert {**batched, "phone": P} == one_by_one


async def test_an_imported_subscriber_gets_consent_labels_and_attributes_in_one_event(suite, tenant, ctx):
    _, client = suite
    imported = fact(P, at(0), "imported", consent="opted_in", program_id="default",
                    labels=("VIP", "interest:shoes", "has spaces"), attributes={"city": "Austin"})
    await handle_events([imported, imported,
                         fact(P, at(1), "label_removed", label="vip"),  # later in the same run
                         fact(P, at(2), "imported", labels=("vip",), attributes={"city": "Paris"})],
                        ctx)
    got = await profile(client, tenant)
    assert got["consent"] == "opted_in"
    assert got["labels"] == ["interest:shoes", "vip"] and got["attributes"] == {"city": "Paris"}
    await handle_events([fact(P, at(3), "label_removed", label="vip"), imported], ctx)
    assert (await profile(client, tenant))["labels"] == ["interest:shoes"], "an event applies once"


async def test_labels_and_attributes_over_rest(suite, tenant):
    _, client = suite
    resp = await client.post(f"/v1/subscribers/{P}/labels", headers=tenant,
                             json={"label": "VIP"})
    assert resp.status_code == 201 and resp.json()["labels"] == ["vip"]
    resp = await client.post(f"/v1/subscribers/{P}/labels", headers=tenant, json={"label": "vip"})
    assert resp.status_code == 200  # already there
    resp = await client.patch(f"/v1/subscribers/{P}/attributes", headers=tenant,
                              json={"attributes": {"city": "Paris", "size": 42, "member": True}})
    assert resp.json()["attributes"] == {"city": "Paris", "size": "42", "member": "true"}
    resp = await client.patch(f"/v1/subscribers/{P}/attributes", headers=tenant,
                              json={"attributes": {"city": None}})
    assert resp.json()["attributes"] == {"size": "42", "member": "true"}
    assert (await client.delete(f"/v1/subscribers/{P}/labels/vip", headers=tenant)).status_code == 204
    assert (await client.delete(f"/v1/subscribers/{P}/labels/vip", headers=tenant)).status_code == 404
    listed = (await client.get("/v1/subscribers", headers=tenant)).json()
    assert listed["total"] == 1 and listed["items"][0]["attributes"]["size"] == "42"


@pytest.mark.parametrize("method, path, body", [
    ("post", f"/v1/subscribers/{P}/labels", {"label": "two words"}),
    ("post", "/v1/subscribers/not-a-phone/labels", {"label": "vip"}),
    ("patch", f"/v1/subscribers/{P}/attributes", {"attributes": {"1st": "x"}}),
    ("patch", f"/v1/subscribers/{P}/attributes", {"attributes": {}}),
    ("get", "/v1/subscribers/not-a-phone", None),
])
async def test_bad_profile_requests_are_422(suite, tenant, method, path, body):
    _, client = suite
    kwargs = {"json": body} if body is not None else {}
    resp = await getattr(client, method)(path, headers=tenant, **kwargs)
    assert resp.status_code == 422, resp.text


async def test_an_unknown_subscriber_is_404(suite, tenant):
    _, client = suite
    assert (await client.get(f"/v1/subscribers/{P}", headers=tenant)).status_code == 404
    assert (await client.get(f"/v1/subscribers/{P}/score", headers=tenant)).status_code == 404
