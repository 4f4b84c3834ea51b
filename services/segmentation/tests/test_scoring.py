"""Engagement scores: default and per-tenant points, once-only rules, the floor at zero, and the
quiet-period decay (once per 30 quiet days, idempotent), all explainable from the history."""

from __future__ import annotations

from datetime import timedelta

from libs.common.testing.app import eventually
from services.segmentation import jobs, scoring
from services.segmentation.tests.helpers import (
    at,
    click,
    ctx_at,
    delivered,
    fact,
    feed,
    reply,
    sent,
    verdict,
)

P, Q = "+15555550101", "+15555550102"


def test_decays_fall_due_once_per_full_quiet_period():
    anchor = at()
    assert scoring.decays_due(anchor, 0, anchor + timedelta(days=29, hours=23)) == []
    assert scoring.decays_due(anchor, 0, anchor + timedelta(days=30)) == [anchor + timedelta(days=30)]
    assert scoring.decays_due(anchor, 0, anchor + timedelta(days=65)) == [
        anchor + timedelta(days=30), anchor + timedelta(days=60)]
    assert scoring.decays_due(anchor, 2, anchor + timedelta(days=65)) == []  # already applied
    assert scoring.next_decay_at(anchor, 2) == anchor + timedelta(days=90)


def test_points_never_take_a_score_below_zero_and_record_what_was_applied():
    assert scoring.apply_points(4, -10) == scoring.Change(delta=-4, score_after=0)
    assert scoring.apply_points(0, -10) == scoring.Change(delta=0, score_after=0)
    assert scoring.apply_points(30, 12) == scoring.Change(delta=12, score_after=42)


def test_tenant_weights_override_the_defaults_rule_by_rule():
    weights = scoring.weights_for({"replied": 10, "vip_visit": 3})
    assert weights["replied"] == 10 and weights["clicked"] == 5 and weights["vip_visit"] == 3
    assert scoring.points("never_heard_of", weights) == 0


async def score_of(client, headers, phone):
    resp = await client.get(f"/v1/subscribers/{phone}/score", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_a_scripted_event_sequence_scores_the_hand_computed_total_including_decay(
        suite, tenant, ctx):
    _, client = suite
    m1 = sent(P, at(0))
    inbound = reply(P, at(10), "DEAL")
    k1 = click(P, at(20), m1, code="k1", tag="shoe-offer")
    await feed(ctx,
               m1,
               delivered(m1, at(1)),                      # +1  = 1
               delivered(m1, at(2)),                      # same message: once = 1
               inbound,                                   # +8  = 9
               verdict(inbound, "DEAL"),                  # a verdict scores nothing itself
               fact(P, at(10), "score_event", score_event="intent"),  # +12 = 21
               k1,                                        # +5  = 26
               click(P, at(21), m1, code="k1"),           # same link: once = 26
               click(P, at(22), m1, code="k2", is_bot=True),  # bots never count = 26
               fact(P, at(30), "conversation_completed", flow_id="welcome"),  # +15 = 41
               sent(Q, at(0)), )
    assert (await score_of(client, tenant, P))["score"] == 41

    # P's last interaction: the click at minute 20; Q never interacted, so Q's quiet time runs
    # from first sight (minute 0). At day 65 two quiet periods have passed for each.
    assert await jobs.decay_once(ctx, at(20, days=65)) == 4   # P: −10 −10 = 21; Q: two
    assert await jobs.decay_once(ctx, at(20, days=65)) == 0   # idempotent
    assert (await score_of(client, tenant, P))["score"] == 21

    await feed(ctx, reply(P, at(0, days=70)))                  # +8 = 29; P's quiet restarts
    assert await jobs.decay_once(ctx, at(0, days=99)) == 1    # Q's third (day 90); P's not due
    assert await jobs.decay_once(ctx, at(0, days=100)) == 1   # P: −10 = 19
    got = await score_of(client, tenant, P)
    assert got["score"] == 19
    assert sum(h["delta"] for h in got["history"]) == 19
    assert [h["rule"] for h in reversed(got["history"])] == [
        "delivered", "replied", "intent", "clicked", "completed", "decay", "decay", "replied", "decay"]

    # Q was only ever sent a message (no receipt): decay has nothing to take below zero.
    q = await score_of(client, tenant, Q)
    assert q["score"] == 0
    assert [(h["rule"], h["delta"]) for h in q["history"]] == [("decay", 0)] * 3


async def test_delivered_points_follow_the_ledger_so_an_unsent_message_scores_nothing(
        suite, tenant, ctx):
    _, client = suite
    m = sent(P, at(0))
    await feed(ctx, m, delivered(m, at(1)))
    stray = delivered(sent(P, at(0)), at(3))  # a receipt for a message segmentation never saw
    await feed(ctx, stray)
    assert (await score_of(client, tenant, P))["score"] == 1


async def test_per_tenant_weights_apply_to_later_events(suite, tenant, ctx):
    _, client = suite
    resp = await client.put("/v1/subscribers/scoring", headers=tenant,
                            json={"weights": {"replied": 10, "decay": -3}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["weights"]["replied"] == 10 and resp.json()["weights"]["clicked"] == 5
    await feed(ctx, reply(P, at(0)))
    await jobs.decay_once(ctx, at(0, days=31))
    assert (await score_of(client, tenant, P))["score"] == 7


async def test_bad_weights_are_422_naming_the_rule(suite, tenant):
    _, client = suite
    cases = [({"Replied": 3}, "Replied", "lower case"), ({"replied": 5000}, "replied", "at most 1000"),
             ({"happy_customer": 3}, "happy_customer", "no rule or score event is called"),
             ({"decay": 10}, "decay", "0 or less"), ({"clicked": -5}, "clicked", "0 or more"),
             ({"replied": True}, "replied", "integer"), ({"replied": 2.5}, "replied", "integer")]
    for weights, rule, message in cases:
        resp = await client.put("/v1/subscribers/scoring", headers=tenant, json={"weights": weights})
        assert resp.status_code == 422, (weights, resp.text)
        [error] = resp.json()["detail"]
        assert error["loc"] == ["body", "weights", rule] and message in error["msg"], (weights, error)


async def test_a_score_event_a_flow_or_campaign_records_can_be_weighted(suite, tenant):
    _, client = suite
    rule = {"id": "vip", "keywords": ["VIP"], "actions": [{"type": "score", "event": "happy_customer"}]}
    assert (await client.post("/v1/campaigns", headers=tenant, json=rule)).status_code == 201
    resp = await client.put("/v1/subscribers/scoring", headers=tenant,
                            json={"weights": {"happy_customer": -4, "decay": 0}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["weights"]["happy_customer"] == -4


async def test_the_decay_loop_applies_decay_on_its_own(fast_loops, suite, tenant, ctx):
    _, client = suite
    await feed(ctx, reply(P, at(0)))                                       # 8
    ctx_at(ctx, at(0, days=31))

    async def decayed():
        return (await score_of(client, tenant, P))["score"] == 0 or None  # 8 − 10, floored

    await eventually(decayed)
