"""Campaign metrics on a hand-built event log; every figure below is worked out by hand in the
comments from the events listed, and split by variant."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from services.segmentation import metrics
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

S1, S2, S3, S4, S5, S6 = (f"+1555555030{i}" for i in range(1, 7))
FLOW = dict(campaign_id="spring", flow_id="welcome")


def prompt(phone, variant, minute=0):
    return sent(phone, at(minute), step="ask", variant=variant, **FLOW)


def answer(phone, variant, minute):
    return sent(phone, at(minute), kind="reply", step="offer", variant=variant, **FLOW)


def conversation(phone, type_, variant, minute):
    return fact(phone, at(minute), type_, variant=variant, step="ask", **FLOW)


async def hand_built_log(ctx):
    m1, m2, m3 = prompt(S1, "a"), prompt(S2, "a"), prompt(S3, "a")
    m4, m5, m6 = prompt(S4, "b"), prompt(S5, "b"), prompt(S6, "b")
    stop_ack = sent(S5, at(61), kind="compliance", campaign_id="spring")
    r1, r4 = answer(S1, "a", 11), answer(S4, "b", 6)
    y1 = reply(S1, at(10), "YES")           # to m1, 600 s later; the router recognised it
    q2 = reply(S2, at(30), "maybe")         # to m2, 1800 s; not recognised
    n4 = reply(S4, at(5), "1")              # to m4, 300 s; recognised
    s5 = reply(S5, at(60), "STOP")          # to m5, 3600 s; an opt-out, still a reply
    late = reply(S2, at(0, days=2), "hi")   # outside the window
    await feed(
        ctx,
        m1, m2, m3, m4, m5, m6, r1, r4, stop_ack,
        *(delivered(m, at(1)) for m in (m1, m2, m3, m4, m5)),   # m6: never confirmed
        delivered(r1, at(12)), delivered(r4, at(7)), delivered(stop_ack, at(62)),
        conversation(S1, "conversation_started", "a", 0),
        conversation(S2, "conversation_started", "a", 0),
        conversation(S4, "conversation_started", "b", 0),
        y1, verdict(y1, "YES"), q2, verdict(q2, None), n4, verdict(n4, "1"), s5,
        fact(S5, at(60), "consent_changed", consent="opted_out", keyword="STOP",
             source_message_id=s5.carrier_message_id),
        conversation(S1, "conversation_completed", "a", 20),
        click(S1, at(15), r1, code="k1", tag="offer"),          # a link sent in reply
        click(S1, at(16), r1, code="k1", tag="offer"),          # same link again: one click
        click(S1, at(17), r1, code="k9", tag="offer", is_bot=True),  # an unfurler
        late,
    )


async def test_every_metric_matches_its_hand_computed_value(suite, tenant, ctx):
    _, client = suite
    ctx_at(ctx, at(0, days=3))
    before = REGISTRY.get_sample_value("parley_campaign_replies_total",
                                       {"tenant": "acme", "campaign": "spring"}) or 0
    await hand_built_log(ctx)
    resp = await client.post("/v1/conversions", headers=tenant, json={
        "phone": S1, "order_id": "o1", "value": "80.00", "occurred_at": at(180).isoformat()})
    assert resp.status_code == 201, resp.text
    assert resp.json()["attributed"] and resp.json()["variant"] == "a"  # S1's last reply: to m1
    resp = await client.post("/v1/conversions", headers=tenant, json={
        "phone": S3, "order_id": "o2", "value": "20.00", "occurred_at": at(180).isoformat()})
    assert resp.json()["attributed"] is False  # S3 never replied

    window = {"start": at(0).isoformat(), "end": at(0, days=1).isoformat()}
    resp = await client.get("/v1/metrics", headers=tenant, params={
        **window, "campaign_id": "spring", "flow_id": "welcome", "group_by": "variant"})
    assert resp.status_code == 200, resp.text
    a, b = resp.json()["groups"]
    assert a["key"] == {"variant": "a"} and b["key"] == {"variant": "b"}

    # Variant a: delivered m1 m2 m3 r1 = 4 (the compliance text never counts); replies y1 q2 = 2
    # (the late one is outside the window); recognised y1 = 1, unmatched q2; started S1 S2, completed S1;
    # one distinct human click on a link sent in reply (k1); o1 attributed; latencies 600, 1800.
    assert a == {"key": {"variant": "a"},
                 "delivered": 4, "replies": 2, "reply_rate": 2 / 4,
                 "recognised_replies": 1, "unmatched_replies": 1, "keyword_match_rate": 1 / 2,
                 "conversations_started": 2, "conversations_completed": 1, "completion_rate": 1 / 2,
                 "reply_clicks": 1, "reply_to_click_rate": 1 / 2,
                 "conversions": {"attributed": 1, "total": 1}, "revenue": {"USD": 80.0},
                 "unattributed_revenue": {}, "reply_to_conversion_rate": 1 / 2,
                 "median_time_to_reply_s": (600 + 1800) / 2,
                 "opt_outs": 0, "opt_out_rate": 0.0}
    # Variant b: delivered m4 m5 r4 = 3 (m6 had no receipt); replies n4 s5 = 2; recognised n4; the STOP
    # got no keyword verdict (compliance decides it), so it is neither recognised nor unmatched;
    # started S4 only; no clicks, no conversions; latencies 300, 3600; S5 opted out (after m5).
    assert b == {"key": {"variant": "b"},
                 "delivered": 3, "replies": 2, "reply_rate": 2 / 3,
                 "recognised_replies": 1, "unmatched_replies": 0, "keyword_match_rate": 1 / 2,
                 "conversations_started": 1, "conversations_completed": 0, "completion_rate": 0.0,
                 "reply_clicks": 0, "reply_to_click_rate": 0.0,
                 "conversions": {"attributed": 0, "total": 0}, "revenue": {},
                 "unattributed_revenue": {}, "reply_to_conversion_rate": 0.0,
                 "median_time_to_reply_s": (300 + 3600) / 2,
                 "opt_outs": 1, "opt_out_rate": 1 / 3}

    # The reply-triggered step "offer": r1 and r4 delivered, no replies to them, so the
    # reply-based rates have no denominator and are null rather than zero.
    resp = await client.get("/v1/metrics", headers=tenant,
                            params={**window, "campaign_id": "spring", "step": "offer"})
    (offer,) = resp.json()["groups"]
    assert offer["delivered"] == 2 and offer["replies"] == 0 and offer["reply_clicks"] == 1
    assert offer["reply_rate"] == 0.0 and offer["reply_to_click_rate"] is None
    assert offer["median_time_to_reply_s"] is None

    # The whole tenant, unsplit: both conversions, one unattributed (its value kept apart).
    (total,) = (await client.get("/v1/metrics", headers=tenant, params=window)).json()["groups"]
    assert total["conversions"] == {"attributed": 1, "total": 2} and total["replies"] == 4
    assert total["revenue"] == {"USD": 80.0} and total["unattributed_revenue"] == {"USD": 20.0}
    assert total["reply_to_conversion_rate"] == 1 / 4
    assert total["median_time_to_reply_s"] == (600 + 1800) / 2  # of 300, 600, 1800, 3600

    after = REGISTRY.get_sample_value("parley_campaign_replies_total",
                                      {"tenant": "acme", "campaign": "spring"})
    assert after - before == 5  # Prometheus counts every reply event, windows are PromQL's job


async def test_metrics_can_be_split_by_several_dimensions(suite, tenant, ctx):
    _, client = suite
    await hand_built_log(ctx)
    resp = await client.get("/v1/metrics", headers=tenant, params={
        "start": at(0).isoformat(), "end": at(0, days=1).isoformat(), "campaign_id": "spring",
        "group_by": ["step", "variant"]})
    keys = [(g["key"]["step"], g["key"]["variant"], g["delivered"]) for g in resp.json()["groups"]]
    assert keys == [("ask", "a", 3), ("ask", "b", 2), ("offer", "a", 1), ("offer", "b", 1)]


async def test_revenue_is_per_currency_and_only_of_attributed_conversions(suite, tenant, ctx):
    """USD 59.90 and EUR 120.00 attributed to replies, USD 10.00 from someone who never replied."""
    _, client = suite
    def revenue(campaign: str, currency: str) -> float:
        return REGISTRY.get_sample_value("parley_campaign_revenue_total", {
            "tenant": "acme", "campaign": campaign, "currency": currency}) or 0.0

    before = [revenue("spring", "USD"), revenue("spring", "EUR"), revenue("none", "USD")]
    m1, m2 = prompt(S1, "a"), prompt(S2, "a")
    await feed(ctx, m1, m2, reply(S1, at(5)), reply(S2, at(6)))
    for phone, order, value, currency in [(S1, "o1", "59.90", "USD"), (S2, "o2", "120.00", "EUR"),
                                          (S3, "o3", "10.00", "USD")]:
        resp = await client.post("/v1/conversions", headers=tenant, json={
            "phone": phone, "order_id": order, "value": value, "currency": currency,
            "occurred_at": at(30).isoformat()})
        assert resp.status_code == 201, resp.text
        assert resp.json()["attributed"] is (phone != S3)
    window = {"start": at(0).isoformat(), "end": at(0, days=1).isoformat()}

    (total,) = (await client.get("/v1/metrics", headers=tenant, params=window)).json()["groups"]
    assert total["conversions"] == {"attributed": 2, "total": 3}
    assert total["revenue"] == {"EUR": 120.0, "USD": 59.9}
    assert total["unattributed_revenue"] == {"USD": 10.0}
    assert total["reply_to_conversion_rate"] == 2 / 2

    resp = await client.get("/v1/metrics", headers=tenant,
                            params={**window, "group_by": "campaign_id"})
    groups = {g["key"]["campaign_id"]: g for g in resp.json()["groups"]}
    assert groups["spring"]["revenue"] == {"EUR": 120.0, "USD": 59.9}
    assert groups["spring"]["conversions"] == {"attributed": 2, "total": 2}
    assert groups[None]["revenue"] == {} and groups[None]["unattributed_revenue"] == {"USD": 10.0}

    after = [revenue("spring", "USD"), revenue("spring", "EUR"), revenue("none", "USD")]
    # Prometheus: attributed value per currency; the unattributed order is not revenue.
    assert [b - a for a, b in zip(before, after, strict=True)] == pytest.approx([59.9, 120.0, 0.0])


@pytest.mark.parametrize("params", [
    {"start": "2026-11-03T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
    {"group_by": "colour"},
    {"start": "yesterday"},
])
async def test_a_bad_metrics_query_is_422(suite, tenant, params):
    _, client = suite
    assert (await client.get("/v1/metrics", headers=tenant, params=params)).status_code == 422


def test_rates_with_nothing_to_divide_by_are_null():
    counts = dict.fromkeys(metrics.COUNTS, 0)
    got = metrics.rates(counts, [])
    assert got["reply_rate"] is None and got["median_time_to_reply_s"] is None
    assert got["conversions"] == {"attributed": 0, "total": 0} and got["revenue"] == {}
    assert metrics.assemble((), {}, []) == [{"key": {}, **got}]


# --- conversations under the variant they carry -------------------------------------------------

P1, P2, P3, P4 = (f"+1555555031{i}" for i in range(1, 5))
NO_CONVERSIONS = {"conversions": {"attributed": 0, "total": 0}, "revenue": {},
                  "unattributed_revenue": {}}
QUIZ = dict(campaign_id="quiz", flow_id="quiz")


def quiz_fact(phone, type_, step, variant, minute):
    return fact(phone, at(minute), type_, step=step, variant=variant, **QUIZ)


def quiz_prompt(phone, step, variant, minute):
    return sent(phone, at(minute), step=step, variant=variant, kind="reply",
                experiment_id="q2-copy" if variant else None, **QUIZ)


def quiz_answer(phone, step, variant, minute, body):
    """A reply the router matched at `step`."""
    r = reply(phone, at(minute), body)
    return [r, verdict(r, body, step=step, variant=variant, **QUIZ)]


async def test_conversations_count_under_the_variant_they_carry_in_every_metric(suite, tenant, ctx):
    """The router's facts for a flow whose second step q2 is A/B tested: a conversation starts
    without a variant and takes one when q2 picks it (its conversation_advanced fact)."""
    _, client = suite
    m1, m2 = quiz_prompt(P1, "q1", None, 0), quiz_prompt(P1, "q2", "x", 2)
    m3, m4 = quiz_prompt(P2, "q1", None, 0), quiz_prompt(P2, "q2", "y", 3)
    m5 = quiz_prompt(P3, "q1", None, 0)
    m6, m7 = quiz_prompt(P4, "q1", None, 0), quiz_prompt(P4, "q2", "x", 1)
    m8, m9 = quiz_prompt(P4, "q1", None, 10), quiz_prompt(P4, "q2", None, 12)
    await feed(
        ctx,
        # P1: q1 answered, q2 picks x, answered, completed.
        quiz_fact(P1, "conversation_started", "q1", None, 0), m1, delivered(m1, at(1)),
        *quiz_answer(P1, "q1", None, 2, "A"),
        quiz_fact(P1, "conversation_advanced", "q2", "x", 2), m2, delivered(m2, at(3)),
        *quiz_answer(P1, "q2", "x", 4, "B"), quiz_fact(P1, "conversation_completed", "q2", "x", 4),
        # P2: q2 picks y, never answered.
        quiz_fact(P2, "conversation_started", "q1", None, 0), m3, delivered(m3, at(1)),
        *quiz_answer(P2, "q1", None, 3, "A"),
        quiz_fact(P2, "conversation_advanced", "q2", "y", 3), m4, delivered(m4, at(4)),
        # P3: never gets past q1.
        quiz_fact(P3, "conversation_started", "q1", None, 0), m5, delivered(m5, at(1)),
        # P4: one conversation on x, completed; then (the experiment stopped) a new one without
        # a variant, whose start must not borrow x from the last message.
        quiz_fact(P4, "conversation_started", "q1", None, 0), m6, delivered(m6, at(1)),
        *quiz_answer(P4, "q1", None, 1, "A"),
        quiz_fact(P4, "conversation_advanced", "q2", "x", 1), m7, delivered(m7, at(2)),
        *quiz_answer(P4, "q2", "x", 2, "B"), quiz_fact(P4, "conversation_completed", "q2", "x", 2),
        quiz_fact(P4, "conversation_started", "q1", None, 10), m8, delivered(m8, at(11)),
        *quiz_answer(P4, "q1", None, 12, "A"),
        quiz_fact(P4, "conversation_advanced", "q2", None, 12), m9, delivered(m9, at(13)),
    )
    resp = await client.get("/v1/metrics", headers=tenant, params={
        "start": at(0).isoformat(), "end": at(0, days=1).isoformat(), "flow_id": "quiz",
        "group_by": "variant"})
    assert resp.status_code == 200, resp.text
    none, x, y = resp.json()["groups"]
    # No variant: P3's and P4's second conversation (neither completed); messages m1 m3 m5 m6 m8
    # m9 delivered; replies to m1 (120 s), m3 (180 s), m6 (60 s), m8 (120 s), all recognised.
    assert none == {"key": {"variant": None},
                    "delivered": 6, "replies": 4, "reply_rate": 4 / 6,
                    "recognised_replies": 4, "unmatched_replies": 0, "keyword_match_rate": 1.0,
                    "conversations_started": 2, "conversations_completed": 0,
                    "completion_rate": 0.0,
                    "reply_clicks": 0, "reply_to_click_rate": 0.0,
                    **NO_CONVERSIONS, "reply_to_conversion_rate": 0.0,
                    "median_time_to_reply_s": 120.0, "opt_outs": 0, "opt_out_rate": 0.0}
    # x: P1's and P4's first conversation, both completed; m2 and m7 delivered and answered
    # (120 s and 60 s).
    assert x == {"key": {"variant": "x"},
                 "delivered": 2, "replies": 2, "reply_rate": 1.0,
                 "recognised_replies": 2, "unmatched_replies": 0, "keyword_match_rate": 1.0,
                 "conversations_started": 2, "conversations_completed": 2, "completion_rate": 1.0,
                 "reply_clicks": 0, "reply_to_click_rate": 0.0,
                 **NO_CONVERSIONS, "reply_to_conversion_rate": 0.0,
                 "median_time_to_reply_s": 90.0, "opt_outs": 0, "opt_out_rate": 0.0}
    # y: P2's conversation, open; m4 delivered, not answered.
    assert y == {"key": {"variant": "y"},
                 "delivered": 1, "replies": 0, "reply_rate": 0.0,
                 "recognised_replies": 0, "unmatched_replies": 0, "keyword_match_rate": None,
                 "conversations_started": 1, "conversations_completed": 0, "completion_rate": 0.0,
                 "reply_clicks": 0, "reply_to_click_rate": None,
                 **NO_CONVERSIONS, "reply_to_conversion_rate": None,
                 "median_time_to_reply_s": None, "opt_outs": 0, "opt_out_rate": 0.0}
