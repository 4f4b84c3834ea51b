"""`GET /v1/insights/unmatched` on a hand-built log: replies and verdicts in either order, matched
replies and compliance words left out, clusters with their counts, examples and suggestions
worked out by hand below, the scope's match rate from the metrics definitions, pages, tenant
scoping, bad parameters and retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from libs.common.db.models.segmentation import UnmatchedReply
from libs.common.ledgers import Ledger, prune_once
from services.segmentation.tests.helpers import at, ctx_at, feed, reply, sent, verdict

FLOW = {"id": "shop", "name": "Shop", "start": "ask", "steps": {"ask": {
    "prompt": "Reply SHOES, BAGS, or rate us 1-5",
    "options": [{"keywords": ["shoes"], "synonyms": ["shoe"]}, {"keywords": ["bags"]},
                {"range": [1, 5]}]}}}
RULE = {"id": "promo", "keywords": ["deal"], "actions": [{"type": "reply", "text": "Here it is"}]}
AT_ASK = dict(campaign_id="spring", flow_id="shop", step="ask")


def phone(n: int) -> str:
    return f"+155555504{n:02d}"


async def hand_built_log(ctx):
    events = []
    answers = {  # subscriber: (reply, keyword the router matched or None, verdict before the reply)
        1: ("Sneakers!", None, False), 2: ("sneakers", None, True), 3: ("snekers", None, False),
        4: ("Sneakers!", None, False), 5: ("the shoe one", None, True), 6: ("7", None, False),
        7: ("What time do you close?", None, False), 8: ("blue", None, False),
        9: ("shoes", "SHOES", False), 10: ("Bags", "BAGS", True), 11: ("STOP", "-", False)}
    for n, (body, keyword, verdict_first) in answers.items():
        prompt = sent(phone(n), at(0), step="ask", campaign_id="spring", flow_id="shop")
        inbound = reply(phone(n), at(10 + n), body)
        events.append(prompt)
        if keyword == "-":  # STOP: compliance decides, no keyword verdict
            events.append(inbound)
            continue
        judged = verdict(inbound, keyword, **AT_ASK)
        events.extend([judged, inbound] if verdict_first else [inbound, judged])
    # Outside any flow: a typo of the campaign keyword, after that campaign's message.
    deal = reply(phone(12), at(30), "dael")
    events += [sent(phone(12), at(20), campaign_id="promo"), deal, verdict(deal, None)]
    # Outside the window, and another tenant's: never counted here.
    late = reply(phone(1), at(0, days=3), "sneakers")
    other = reply(phone(1), at(15), "sneakers", tenant="beta")
    events += [late, verdict(late, None, **AT_ASK), other, verdict(other, None, **AT_ASK)]
    await feed(ctx, *events)


async def setup(suite, tenant):
    app, client = suite
    ctx = ctx_at(app.state.ctx, at(0, days=2))
    for path, body in (("/v1/flows", FLOW), ("/v1/campaigns", RULE)):
        resp = await client.post(path, headers=tenant, json=body)
        assert resp.status_code == 201, resp.text
    await hand_built_log(ctx)
    return ctx, client


WINDOW = {"since": at(0).isoformat(), "until": at(0, days=1).isoformat()}


async def test_unmatched_replies_are_clustered_with_counts_examples_and_suggestions(suite, tenant):
    ctx, client = await setup(suite, tenant)
    resp = await client.get("/v1/insights/unmatched", headers=tenant,
                            params={**WINDOW, "flow_id": "shop", "step": "ask"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # At shop/ask: 11 replies (the STOP is a reply too), 2 recognised (shoes, Bags), 8 unmatched
    # with a verdict: 1–8. The STOP has no verdict, so it is neither.
    assert body["match"] == {"replies": 11, "recognised_replies": 2, "unmatched_replies": 8,
                             "keyword_match_rate": 2 / 11}
    assert (body["unmatched"], body["distinct_texts"], body["clustered_texts"]) == (8, 6, 6)
    got = [(c["text"], c["count"], c["example"], c["texts"], c["suggestion"]["action"],
            c["suggestion"]["option"]) for c in body["clusters"]]
    # sneakers ×3 ("Sneakers!" twice, "sneakers" once) with snekers ×1: one cluster of 4; then the
    # singles by text. Closeness is by spelling: "sneakers" is no typo of an option, so it is a
    # candidate for a new option, while "the shoe one" names the SHOES synonym "shoe".
    assert got == [
        ("sneakers", 4, "Sneakers!", ["sneakers", "snekers"], "new_option", None),
        ("7", 1, "7", ["7"], "out_of_range", None),
        ("blue", 1, "blue", ["blue"], "new_option", None),
        ("the shoe one", 1, "the shoe one", ["the shoe one"], "add_synonym", "SHOES"),
        ("what time do you close", 1, "What time do you close?", ["what time do you close"],
         "answer_question", None),
    ]
    texts = [c["suggestion"]["text"] for c in body["clusters"]]
    assert texts[0] == "consider a new option for 'sneakers': 4 replies"
    assert texts[1] == ("'7' is outside the numbers the options take (1-5): say the valid answers in "
                        "the prompt: 1 reply")
    assert texts[3] == "add 'the shoe one' as a synonym of SHOES: 1 reply"
    assert body["clusters"][0]["where"] == [{"flow_id": "shop", "step": "ask", "campaign_id": "spring",
                                             "count": 4}]
    assert body["next_after"] is None

    # The whole tenant: the campaign keyword's typo too, judged against the campaign's keywords.
    resp = await client.get("/v1/insights/unmatched", headers=tenant, params=WINDOW)
    everything = resp.json()
    assert everything["unmatched"] == 9
    dael = next(c for c in everything["clusters"] if c["text"] == "dael")
    assert dael["suggestion"] == {"action": "add_synonym", "option": "DEAL",
                                  "text": "add 'dael' as a synonym of DEAL: 1 reply"}
    assert dael["where"] == [{"flow_id": None, "step": None, "campaign_id": "promo", "count": 1}]

    # The per-step match rate in /v1/metrics agrees.
    resp = await client.get("/v1/metrics", headers=tenant, params={
        "start": WINDOW["since"], "end": WINDOW["until"], "flow_id": "shop", "group_by": "step"})
    (ask,) = resp.json()["groups"]
    assert ask["key"] == {"step": "ask"} and ask["keyword_match_rate"] == 2 / 11
    assert ask["unmatched_replies"] == 8

    # Matched replies leave no text behind; the STOP's waits unjudged (never listed) until pruned.
    async with ctx.sessions() as session:
        judged = await session.scalar(select(func.count()).select_from(UnmatchedReply).where(
            UnmatchedReply.tenant_id == "acme", UnmatchedReply.judged.is_(True)))
        waiting = list(await session.scalars(select(UnmatchedReply.raw).where(
            UnmatchedReply.tenant_id == "acme", UnmatchedReply.judged.is_(False))))
    assert (judged, waiting) == (10, ["STOP"])  # 8 at shop/ask, dael, the late one
    removed = await prune_once(ctx, [Ledger(UnmatchedReply.at)],
                               at(0, days=5 + ctx.settings.ledger_retention_days))
    assert removed == {"unmatched_reply": 12}  # acme's 11 and beta's


async def test_clusters_come_in_pages(suite, tenant):
    _, client = await setup(suite, tenant)
    params = {**WINDOW, "flow_id": "shop", "step": "ask", "limit": 2}
    seen, after = [], None
    for _ in range(5):
        resp = await client.get("/v1/insights/unmatched", headers=tenant,
                                params={**params, **({"after": after} if after else {})})
        assert resp.status_code == 200, resp.text
        seen += [c["text"] for c in resp.json()["clusters"]]
        after = resp.json()["next_after"]
        if after is None:
            break
    assert seen == ["sneakers", "7", "blue", "the shoe one", "what time do you close"]


@pytest.mark.parametrize("params, loc", [
    ({"step": "ask"}, ["query", "step"]),
    ({"since": at(1).isoformat(), "until": at(0).isoformat()}, ["query", "since"]),
    ({"since": "yesterday"}, ["query", "since"]),
    ({"limit": 0}, ["query", "limit"]),
    ({"limit": 101}, ["query", "limit"]),
    ({"after": "not a cursor!"}, ["query", "after"]),
    ({"after": "eyJwaG9uZSI6IisxNTU1In0"}, ["query", "after"]),  # another list's cursor
])
async def test_bad_parameters_are_422_naming_the_field(suite, tenant, params, loc):
    _, client = suite
    resp = await client.get("/v1/insights/unmatched", headers=tenant, params=params)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == loc


async def test_an_empty_scope_has_no_clusters_and_no_rate(suite, tenant):
    _, client = suite
    resp = await client.get("/v1/insights/unmatched", headers=tenant, params=WINDOW)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["clusters"], body["unmatched"], body["match"]["keyword_match_rate"]) == ([], 0, None)


async def test_the_window_defaults_to_the_last_30_days(suite, tenant):
    ctx, client = await setup(suite, tenant)
    ctx_at(ctx, at(0, days=2) + timedelta(hours=1))
    resp = await client.get("/v1/insights/unmatched", headers=tenant, params={"flow_id": "shop"})
    assert resp.json()["unmatched"] == 8  # the late reply (day 3) is after "now"
