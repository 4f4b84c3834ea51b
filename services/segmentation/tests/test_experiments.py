"""Experiments over the API: arms counted from events (a send is a prompt the router marked, a
success the first goal reached on that prompt), the report, promotion by hand and automatic
promotion."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from libs.common.bandit import ArmStats
from libs.common.db.models.segmentation import ExperimentVariant
from libs.common.testing.app import eventually
from services.segmentation import experiments, jobs
from services.segmentation.tests.helpers import at, click, fact, feed, reply, sent, verdict

PROMPTS = [{"key": "yes", "prompt": "Reply YES for 20% off"},
           {"key": "one", "prompt": "Reply 1 for 20% off"},
           {"key": "go", "prompt": "Reply GO for 20% off"}]
# The shipped playbook, posted as a tenant would (through the API, no router code imported).
WELCOME = Path(__file__).resolve().parents[3] / "services/router/flows/playbooks/welcome.yaml"
EXPERIMENT = {"id": "cta", "name": "Call to action", "flow_id": "welcome", "step": "ask",
              "goal": "reply", "variants": PROMPTS}


@pytest.fixture
async def tenant(tenant, suite):
    """The root conftest's tenant, with the welcome flow: an experiment tests a prompt of a step
    that exists (`ask`)."""
    _, client = suite
    resp = await client.post("/v1/flows", headers={**tenant, "content-type": "application/yaml"},
                             content=WELCOME.read_bytes())
    assert resp.status_code == 201, resp.text
    return tenant


async def create(client, headers, body=EXPERIMENT):
    resp = await client.post("/v1/experiments", headers=headers, json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def arms(client, headers, experiment_id="cta"):
    resp = await client.get(f"/v1/experiments/{experiment_id}", headers=headers)
    return {v["key"]: (v["sends"], v["successes"]) for v in resp.json()["variants"]}


def ask(phone, variant, minute=0, **fields):
    """The step's prompt, as the router marks it: one send of the experiment."""
    fields.setdefault("experiment_id", "cta")
    return sent(phone, at(minute), flow_id="welcome", step="ask", variant=variant, **fields)


def after_ask(phone, variant, minute, kind="reply", **fields):
    """Anything else the conversation sends at that step (an option's reply, a fallback, a nudge):
    it carries the variant but is no send of the experiment."""
    return sent(phone, at(minute), kind=kind, flow_id="welcome", step="ask", variant=variant,
                **fields)


async def test_arms_count_sends_and_the_first_reply_to_each_message(suite, tenant, ctx):
    _, client = suite
    await create(client, tenant)
    a, b, c = "+15555550601", "+15555550602", "+15555550603"
    await feed(ctx,
               ask(a, "yes"), ask(b, "yes"), ask(c, "yes"), ask(a, "one", 30), ask(b, "one", 30),
               reply(a, at(5)), reply(a, at(6)),    # two replies to one message: one success
               reply(b, at(40)),                     # answers b's latest message: variant "one"
               ask(c, "not-an-arm", 50),             # not a variant of the experiment
               sent(c, at(51), flow_id="welcome", step="thanks", variant="yes"))  # other step
    assert await arms(client, tenant) == {"yes": (3, 1), "one": (2, 1), "go": (0, 0)}

    report = (await client.get("/v1/experiments/cta/report", headers=tenant)).json()
    by_key = {arm["key"]: arm for arm in report["arms"]}
    assert by_key["yes"]["rate"] == pytest.approx(1 / 3) and by_key["go"]["rate"] is None
    assert by_key["one"]["prompt"] == "Reply 1 for 20% off"
    lo, hi = by_key["yes"]["interval95"]
    assert 0 < lo < 1 / 3 < hi < 1
    assert sum(arm["prob_best"] for arm in report["arms"]) == pytest.approx(1.0)
    assert report["winner"] is None and report["state"] == "running"


async def test_keyword_and_click_goals_count_their_own_successes(suite, tenant, ctx):
    _, client = suite
    await create(client, tenant, {**EXPERIMENT, "goal": "keyword"})
    await create(client, tenant, {"id": "links", "name": "Link copy", "campaign_id": "flash",
                                  "goal": "click", "variants": PROMPTS[:2]})
    a, b = "+15555550611", "+15555550612"
    m_a, m_b = ask(a, "yes"), ask(b, "go")
    flash = sent(a, at(20), campaign_id="flash", variant="one")
    matched, unmatched = reply(a, at(5)), reply(b, at(5))
    await feed(ctx, m_a, m_b, matched, verdict(matched, "YES"), unmatched, verdict(unmatched, None),
               flash, click(a, at(25), flash), click(a, at(26), flash, is_bot=True))
    assert await arms(client, tenant) == {"yes": (1, 1), "one": (0, 0), "go": (1, 0)}
    assert await arms(client, tenant, "links") == {"yes": (0, 0), "one": (1, 1)}


async def test_only_the_prompt_is_a_send_and_replies_count_against_it(suite, tenant, ctx):
    _, client = suite
    await create(client, tenant, {**EXPERIMENT, "variants": PROMPTS[:2]})
    a, b, c, d = (f"+1555555062{i}" for i in range(1, 5))
    await feed(ctx,
               ask(a, "yes"), reply(a, at(1), "2"), after_ask(a, "yes", 2),  # answered; offer sent
               reply(a, at(3), "thanks"),                   # a reply to the offer, not the prompt
               ask(b, "yes"), reply(b, at(1), "huh"), after_ask(b, "yes", 2),  # fallback
               reply(b, at(3), "2"), after_ask(b, "yes", 4),                 # then the offer
               ask(c, "one"), after_ask(c, "one", 60, kind="marketing"),      # silent; a nudge
               reply(c, at(61), "ok"),                      # answers the nudge, not the prompt
               ask(d, "one"), reply(d, at(1), "1"), after_ask(d, "one", 2))
    # Sends are the four prompts; successes the first reply to each prompt: a, b and d.
    assert await arms(client, tenant) == {"yes": (2, 2), "one": (2, 1)}
    report = (await client.get("/v1/experiments/cta/report", headers=tenant)).json()
    assert {arm["key"]: arm["rate"] for arm in report["arms"]} == {"yes": 1.0, "one": 0.5}


async def test_a_keyword_matched_at_the_step_counts_for_its_prompt_once(suite, tenant, ctx):
    _, client = suite
    await create(client, tenant, {**EXPERIMENT, "goal": "keyword", "variants": PROMPTS[:2]})
    e, f = "+15555550631", "+15555550632"
    at_step = {"flow_id": "welcome", "step": "ask"}
    huh, two, again = reply(e, at(1), "huh"), reply(e, at(3), "2"), reply(e, at(5), "2")
    nope, nah = reply(f, at(1), "nope"), reply(f, at(3), "nah")
    await feed(ctx,
               ask(e, "yes"), huh, verdict(huh, None, **at_step), after_ask(e, "yes", 2),
               two, verdict(two, "2", **at_step),          # matched after the fallback: success
               after_ask(e, "yes", 4), again, verdict(again, "2", **at_step),  # counted once
               ask(f, "one"), nope, verdict(nope, None, **at_step), after_ask(f, "one", 2),
               nah, verdict(nah, None, **at_step))        # never matched: no success
    assert await arms(client, tenant) == {"yes": (1, 1), "one": (1, 0)}

    # k leaves a prompt unanswered; in a later conversation (the step's own prompt, no variant)
    # a match at the step is no success of that old prompt.
    k, late = "+15555550633", reply("+15555550633", at(32), "2")
    await feed(ctx, fact(k, at(0), "conversation_started", **at_step), ask(k, "yes"),
               fact(k, at(30), "conversation_started", **at_step),
               sent(k, at(30), **at_step), late, verdict(late, "2", **at_step))
    assert await arms(client, tenant) == {"yes": (2, 1), "one": (1, 0)}


async def test_a_click_counts_only_on_a_link_of_the_prompt(suite, tenant, ctx):
    _, client = suite
    await create(client, tenant, {**EXPERIMENT, "goal": "click", "variants": PROMPTS[:2]})
    g, h = "+15555550641", "+15555550642"
    prompt_g, prompt_h, offer_h = ask(g, "yes"), ask(h, "one"), after_ask(h, "one", 2)
    await feed(ctx, prompt_g, click(g, at(1), prompt_g), click(g, at(2), prompt_g),
               prompt_h, reply(h, at(1), "1"), offer_h, click(h, at(3), offer_h))
    assert await arms(client, tenant) == {"yes": (1, 1), "one": (1, 0)}


async def test_p_best_and_auto_promotion_use_the_prompts_and_their_replies(suite, tenant, ctx):
    """Hand-computed: "yes" 5 prompts, 5 answered (each answer gets an offer back); "one" 5
    prompts, 1 answered. Counting the offers as sends would give yes 5/10 and one 1/6, where
    P(best) is about 0.89, short of the threshold."""
    _, client = suite
    await create(client, tenant, {**EXPERIMENT, "variants": PROMPTS[:2], "min_sends": 5,
                                  "threshold": 0.95})
    phones = [f"+155555506{50 + i}" for i in range(10)]

    def conversation(n: int, variant: str, answered: bool) -> list:
        phone = phones[n]
        events = [ask(phone, variant, n * 10)]
        if answered:
            events += [reply(phone, at(n * 10 + 1), "2"), after_ask(phone, variant, n * 10 + 2)]
        return events

    for n in range(4):
        await feed(ctx, *conversation(n, "yes", True), *conversation(5 + n, "one", n == 0))
    assert await arms(client, tenant) == {"yes": (4, 4), "one": (4, 1)}
    assert await jobs.promote_once(ctx, at(100)) == []  # min_sends is 5

    await feed(ctx, *conversation(4, "yes", True), *conversation(9, "one", False))
    expected = experiments.report("cta", [ArmStats("yes", 5, 5), ArmStats("one", 5, 1)])
    report = (await client.get("/v1/experiments/cta/report", headers=tenant)).json()
    assert [(a["key"], a["sends"], a["successes"], a["prob_best"]) for a in report["arms"]] == [
        (a.key, a.sends, a.successes, a.prob_best) for a in expected]
    assert report["arms"][0]["prob_best"] > 0.95
    assert await jobs.promote_once(ctx, at(100)) == [("acme", "cta", "yes")]


async def test_a_winner_is_promoted_by_hand(suite, tenant):
    _, client = suite
    await create(client, tenant)
    resp = await client.post("/v1/experiments/cta/promote", headers=tenant, json={"variant": "nope"})
    assert resp.status_code == 422
    resp = await client.post("/v1/experiments/cta/promote", headers=tenant, json={"variant": "go"})
    assert resp.json()["state"] == "promoted" and resp.json()["winner"] == "go"
    assert resp.json()["promoted_by"] == "hand"


async def _set_arms(ctx, counts):
    async with ctx.sessions() as session, session.begin():
        for key, (sends, successes) in counts.items():
            await session.execute(update(ExperimentVariant).where(
                ExperimentVariant.experiment_id == "cta", ExperimentVariant.key == key)
                .values(sends=sends, successes=successes))


async def test_the_leader_is_promoted_automatically_once_it_passes_the_threshold(suite, tenant, ctx):
    _, client = suite
    await create(client, tenant, {**EXPERIMENT, "threshold": 0.95, "min_sends": 100})
    await _set_arms(ctx, {"yes": (400, 20), "one": (400, 31), "go": (99, 12)})
    assert await jobs.promote_once(ctx, at(0)) == []  # "go" has too few sends yet
    await _set_arms(ctx, {"yes": (400, 20), "one": (400, 31), "go": (1200, 144)})
    assert await jobs.promote_once(ctx, at(0)) == [("acme", "cta", "go")]
    got = (await client.get("/v1/experiments/cta", headers=tenant)).json()
    assert (got["state"], got["winner"], got["promoted_by"]) == ("promoted", "go", "auto")


async def test_the_promotion_loop_runs_on_its_own(fast_loops, suite, tenant, ctx):
    _, client = suite
    await create(client, tenant)
    await _set_arms(ctx, {"yes": (300, 10), "one": (300, 12), "go": (900, 120)})

    async def promoted():
        got = (await client.get("/v1/experiments/cta", headers=tenant)).json()
        return got["winner"] == "go" or None

    await eventually(promoted)


@pytest.mark.parametrize("change", [
    {"variants": PROMPTS[:1]},
    {"variants": [PROMPTS[0], PROMPTS[0]]},
    {"flow_id": None},
    {"step": None},
    {"goal": "purchase"},
    {"allocation": "epsilon"},
    {"threshold": 1.0},
])
async def test_a_bad_experiment_is_422(suite, tenant, change):
    _, client = suite
    resp = await client.post("/v1/experiments", headers=tenant, json={**EXPERIMENT, **change})
    assert resp.status_code == 422


async def test_an_experiment_on_what_does_not_exist_is_422_naming_it(suite, tenant):
    _, client = suite
    silent = {"id": "silent", "start": "wait", "steps": {"wait": {"options": [{"keywords": ["GO"]}]}}}
    assert (await client.post("/v1/flows", headers=tenant, json=silent)).status_code == 201
    cases = [({"flow_id": "nosuch"}, ["body", "flow_id"], "unknown flow 'nosuch'"),
             ({"step": "nosuch"}, ["body", "step"], "has no step 'nosuch' (its steps: ask)"),
             ({"flow_id": "silent", "step": "wait"}, ["body", "step"], "sends no prompt"),
             ({"variants": [PROMPTS[0], {"key": "x", "prompt": "Hi {first_name}"}]},
              ["body", "variants", 1, "prompt"], "{first_name} names no variable"),
             ({"variants": [PROMPTS[0], {"key": "x", "prompt": "Shop {link:https://a.example|ttl=9999d}"}]},
              ["body", "variants", 1, "prompt"], "at most 365d")]
    for change, loc, message in cases:
        resp = await client.post("/v1/experiments", headers=tenant, json={**EXPERIMENT, **change})
        assert resp.status_code == 422, (change, resp.text)
        [error] = resp.json()["detail"]
        assert error["loc"] == loc and message in error["msg"], (change, error)
    ok = {"variants": [PROMPTS[0], {"key": "x", "prompt": "{brand}: {interest}? {link:https://a.example}"}]}
    resp = await client.post("/v1/experiments", headers=tenant, json={**EXPERIMENT, **ok})
    assert resp.status_code == 201, resp.text


async def test_one_live_experiment_per_prompt(suite, tenant):
    _, client = suite
    await create(client, tenant)
    resp = await client.post("/v1/experiments", headers=tenant, json={**EXPERIMENT, "id": "cta2"})
    assert resp.status_code == 409
    await client.post("/v1/experiments/cta/stop", headers=tenant)
    await create(client, tenant, {**EXPERIMENT, "id": "cta2"})
