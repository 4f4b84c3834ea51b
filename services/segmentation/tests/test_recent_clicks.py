"""GET /v1/subscribers/{phone}/clicks: a subscriber's latest human clicks, with where each link
leads, newest first (bots never count)."""

from __future__ import annotations

from libs.common.db.models.sender import Link
from services.segmentation.tests.helpers import at, click, feed, reply, sent

PHONE = "+15555550811"


async def test_recent_clicks_are_the_humans_newest_first_with_their_targets(suite, tenant, ctx):
    _, client = suite
    offer = sent(PHONE, at(0), flow_id="welcome", step="ask", variant="a")
    async with ctx.sessions() as session, session.begin():
        session.add(Link(code="k-shoes", tenant_id="acme", phone=PHONE, url="https://shop.example/shoes",
                         message_id=offer.message_id, created_at=at(0)))
    await feed(ctx, offer, reply(PHONE, at(1), "1"),
               click(PHONE, at(2), offer, code="k-shoes", tag="shoe-offer"),
               click(PHONE, at(3), offer, code="k-bot", is_bot=True),
               click(PHONE, at(4), offer, code="k-other"))
    resp = await client.get(f"/v1/subscribers/{PHONE}/clicks", headers=tenant)
    assert resp.status_code == 200, resp.text
    got = [(c["code"], c["url"], c["tag"], c["flow_id"], c["step"], c["variant"]) for c in resp.json()]
    assert got == [("k-other", None, None, "welcome", "ask", "a"),
                   ("k-shoes", "https://shop.example/shoes", "shoe-offer", "welcome", "ask", "a")]
    limited = await client.get(f"/v1/subscribers/{PHONE}/clicks", headers=tenant, params={"limit": 1})
    assert [c["code"] for c in limited.json()] == ["k-other"]


async def test_clicks_of_an_unknown_subscriber_are_404_and_a_bad_phone_422(suite, tenant):
    _, client = suite
    assert (await client.get("/v1/subscribers/+15555550899/clicks", headers=tenant)).status_code == 404
    assert (await client.get("/v1/subscribers/nope/clicks", headers=tenant)).status_code == 422
