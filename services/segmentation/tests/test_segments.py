"""Segments compiled to SQL, on SQLite and PostgreSQL: the issue's example, `any`/`not` nesting,
attributes, consent and replies, each next to a subscriber that just misses a condition; and the
/v1/segments API (count, pages, membership, 422 with the path of a bad node)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from libs.common.db.migrate import upgrade
from libs.common.db.models.segmentation import Interaction, Subscriber, SubscriberLabel
from libs.common.db.session import make_engine, make_sessionmaker
from services.segmentation import rules
from services.segmentation.store import profiles as profile_store
from services.segmentation.store import segments
from services.segmentation.tests.helpers import T0, click, ctx_at, fact, feed, reply, sent, verdict

NOW = T0
HIT, HIT_AT_EDGE = "+15555550201", "+15555550207"
MISS_LABEL, MISS_TAG, MISS_AGE, MISS_SCORE = ("+15555550202", "+15555550203", "+15555550204",
                                              "+15555550205")
OTHER_TENANT = "+15555550206"

EXAMPLE = {"all": [{"label": "interest:shoes"},
                   {"clicked": {"within_days": 14, "tag": "shoe-offer"}},
                   {"score": {"gt": 70}}]}
NESTED = {"any": [{"label": "vip"},
                  {"all": [{"score": {"gte": 71}},
                           {"not": {"clicked": {"within_days": 14, "tag": "shoe-offer"}}}]}]}


def person(tenant, phone, score, labels, clicks):
    rows = [Subscriber(tenant_id=tenant, phone=phone, consent="opted_in", first_seen_at=NOW,
                       score=score, replies=0, messages_received=0, clicks=len(clicks))]
    rows += [SubscriberLabel(tenant_id=tenant, phone=phone, label=label, source="api",
                             applied_at=NOW) for label in labels]
    rows += [Interaction(tenant_id=tenant, phone=phone, kind="click", at=when, tag=tag,
                         source_id=f"{phone}-{tag}") for tag, when in clicks]
    return rows


def example_people():
    ok_click = ("shoe-offer", NOW - timedelta(days=13))
    return [
        *person("acme", HIT, 71, ["interest:shoes"], [ok_click]),
        *person("acme", HIT_AT_EDGE, 95, ["interest:shoes", "vip"],
                [("shoe-offer", NOW - timedelta(days=14))]),                  # exactly 14 days
        *person("acme", MISS_LABEL, 71, ["interest:boots", "vip"], [ok_click]),
        *person("acme", MISS_TAG, 71, ["interest:shoes"], [("boot-offer", NOW - timedelta(days=1))]),
        *person("acme", MISS_AGE, 71, ["interest:shoes"],
                [("shoe-offer", NOW - timedelta(days=14, seconds=1))]),
        *person("acme", MISS_SCORE, 70, ["interest:shoes"], [ok_click]),
        *person("other", OTHER_TENANT, 99, ["interest:shoes"], [ok_click]),
    ]


@pytest.fixture
async def db(settings):
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        session.add_all(example_people())
    yield sessions
    await engine.dispose()


async def members(sessions, raw, tenant="acme"):
    node = rules.parse(raw)
    async with sessions() as session:
        count = await segments.count(session, tenant, node, NOW)
        page = [r.phone for r in await segments.page(session, tenant, node, NOW, 100, None)]
    assert count == len(page)
    return page


async def test_the_example_segment_keeps_only_who_meets_every_condition(profile, db):
    assert await members(db, EXAMPLE) == [HIT, HIT_AT_EDGE]
    async with db() as session:
        node = rules.parse(EXAMPLE)
        assert await segments.contains(session, "acme", node, NOW, HIT)
        for near_miss in (MISS_LABEL, MISS_TAG, MISS_AGE, MISS_SCORE, OTHER_TENANT):
            assert not await segments.contains(session, "acme", node, NOW, near_miss), near_miss


async def test_any_and_not_nest(profile, db):
    # vip, or (score >= 71 and no shoe-offer click in 14 days)
    assert await members(db, NESTED) == [MISS_LABEL, MISS_TAG, MISS_AGE, HIT_AT_EDGE]
    assert await members(db, {"not": NESTED}) == [HIT, MISS_SCORE]


async def test_pages_walk_the_segment_by_phone(profile, db):
    node = rules.parse({"label": "interest:shoes"})
    seen, after = [], None
    async with db() as session:
        while True:
            page = await segments.page(session, "acme", node, NOW, 2, after)
            seen += [r.phone for r in page]
            if len(page) < 2:
                break
            after = page[-1].phone
    assert seen == [HIT, MISS_TAG, MISS_AGE, MISS_SCORE, HIT_AT_EDGE]


async def test_unknown_labels_and_attributes_match_nobody(profile, db):
    assert await members(db, {"label": "never-used"}) == []
    assert await members(db, {"attribute": {"name": "nope", "eq": "x"}}) == []
    assert await members(db, {"attribute": {"name": "nope", "exists": False}}) != []


async def test_attributes_consent_and_replies(profile, db):
    async with db() as session, session.begin():
        for phone, size, city in ((HIT, "42", "Paris"), (MISS_TAG, "41", "Paris"),
                                  (MISS_AGE, "44", "Lyon")):
            await profile_store.set_attribute(session, "acme", phone, "shoe_size", size, NOW)
            await profile_store.set_attribute(session, "acme", phone, "city", city, NOW)
        (await session.get(Subscriber, ("acme", MISS_AGE))).consent = "opted_out"
        session.add_all([
            Interaction(tenant_id="acme", phone=HIT, kind="reply", at=NOW - timedelta(days=2),
                        keyword="DEAL", campaign_id="spring"),
            Interaction(tenant_id="acme", phone=MISS_TAG, kind="reply", at=NOW - timedelta(days=8),
                        keyword="DEAL", campaign_id="spring"),       # a day too old
            Interaction(tenant_id="acme", phone=MISS_SCORE, kind="reply", at=NOW - timedelta(days=1),
                        keyword="STOP", campaign_id="spring"),       # another keyword
        ])
    assert await members(db, {"attribute": {"name": "shoe_size", "gte": 42}}) == [HIT, MISS_AGE]
    assert await members(db, {"attribute": {"name": "city", "in": ["Paris", "Nice"]}}) == [
        HIT, MISS_TAG]
    assert await members(db, {"attribute": {"name": "city", "ne": "Paris"}}) == [MISS_AGE]
    assert await members(db, {"all": [{"attribute": {"name": "city", "eq": "Paris"}},
                                       {"consent": "opted_in"}]}) == [HIT, MISS_TAG]
    assert await members(db, {"consent": "opted_out"}) == [MISS_AGE]
    assert await members(db, {"replied": {"within_days": 7, "keyword": "deal"}}) == [HIT]
    assert await members(db, {"replied": {"within_days": 7}}) == [HIT, MISS_SCORE]
    assert await members(db, {"replied": {"campaign_id": "spring"}}) == [HIT, MISS_TAG, MISS_SCORE]


# --- through the API and the consumer -------------------------------------------------------------

async def test_the_example_segment_over_the_api_from_events(suite, tenant, ctx):
    _, client = suite
    ctx_at(ctx, NOW)
    # With replies worth 11: six replies and a click score 6 × 11 + 5 = 71, five score 60.
    await client.put("/v1/subscribers/scoring", headers=tenant, json={"weights": {"replied": 11}})
    for phone, tag, replies in ((HIT, "shoe-offer", 6), (MISS_TAG, "boot-offer", 6),
                                (MISS_SCORE, "shoe-offer", 5)):
        m = sent(phone, NOW - timedelta(days=3))
        events = [m, fact(phone, NOW - timedelta(days=3), "label_applied", label="interest:shoes"),
                  click(phone, NOW - timedelta(days=2), m, tag=tag)]
        events += [reply(phone, NOW - timedelta(days=2, minutes=-i)) for i in range(replies)]
        await feed(ctx, *events)
    resp = await client.post("/v1/segments", headers=tenant,
                             json={"id": "shoe-fans", "name": "Shoe fans", "rule": EXAMPLE})
    assert resp.status_code == 201, resp.text
    assert (await client.get("/v1/segments/shoe-fans/count", headers=tenant)).json() == {"count": 1}
    page = (await client.get("/v1/segments/shoe-fans/subscribers", headers=tenant)).json()
    assert [s["phone"] for s in page["items"]] == [HIT]
    assert page["items"][0]["labels"] == ["interest:shoes"] and page["items"][0]["score"] == 71
    member = await client.get(f"/v1/segments/shoe-fans/subscribers/{MISS_TAG}", headers=tenant)
    assert member.json() == {"phone": MISS_TAG, "member": False}
    member = await client.get(f"/v1/segments/shoe-fans/subscribers/{HIT}", headers=tenant)
    assert member.json()["member"] is True


async def test_a_bad_rule_is_422_with_the_path_of_the_bad_node(suite, tenant):
    _, client = suite
    bad = {"any": [{"label": "a"}, {"clicked": {"within_days": -3}}]}
    resp = await client.post("/v1/segments", headers=tenant, json={"name": "x", "rule": bad})
    assert resp.status_code == 422
    detail = resp.json()["detail"][0]
    assert detail["path"] == "rule.any[1].clicked.within_days"
    assert detail["loc"] == ["body", "rule", "any", 1, "clicked", "within_days"]
    resp = await client.post("/v1/segments/count", headers=tenant,
                             json={"rule": {"score": {"gtt": 70}}})
    assert resp.status_code == 422 and resp.json()["detail"][0]["path"] == "rule.score.gtt"
    assert (await client.get("/v1/segments", headers=tenant)).json() == []


async def test_segments_are_scoped_to_the_callers_tenant(suite, tenant, admin_headers):
    _, client = suite
    resp = await client.post("/v1/tenants", headers=admin_headers, json={"id": "beta", "name": "B"})
    beta = {"Authorization": f"Bearer {resp.json()['api_key']}"}
    await client.post("/v1/segments", headers=tenant,
                      json={"id": "mine", "name": "Mine", "rule": {"label": "x"}})
    assert (await client.get("/v1/segments/mine", headers=beta)).status_code == 404
    assert (await client.get("/v1/segments/mine/count", headers=beta)).status_code == 404
    assert (await client.get("/v1/segments", headers=beta)).json() == []


async def test_keyword_replies_are_segmentable_whichever_of_reply_and_verdict_comes_first(
        suite, tenant, ctx):
    _, client = suite
    ctx_at(ctx, NOW)
    first, second = reply(HIT, NOW - timedelta(hours=1)), reply(MISS_TAG, NOW - timedelta(hours=1))
    await feed(ctx, first, verdict(first, "deal"), verdict(second, "deal"), second)
    resp = await client.post("/v1/segments/count", headers=tenant,
                             json={"rule": {"replied": {"within_days": 1, "keyword": "DEAL"}}})
    assert resp.json() == {"count": 2}
