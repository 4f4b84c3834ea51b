"""Tracked links end to end: the sender turns `{link:…}` into a unique short link per subscriber
and message, stores it with the campaign, flow step, variant and tag, and ingress redirects it and
publishes the click with all of them."""

from __future__ import annotations

import re

from sqlalchemy import select

from libs.common.db.models.sender import Link, OutboundMessage
from libs.common.events.sms_outbound import SendSms
from libs.common.testing.app import eventually
from services.sender.consumer import handle_outbound
from services.sender.tests.helpers import listen


async def test_a_tracked_link_is_unique_per_subscriber_and_its_click_carries_the_context(suite, tenant):
    app, client = suite
    ctx = app.state.ctx
    ctx.settings.link_base_url = "https://go.acme.example"
    clicks = await listen(ctx, "link.clicked")
    body = "New arrivals: {link:https://shop.example/shoes|tag=shoe-offer} Reply STOP to opt out"
    sent = {}
    for phone in ("+15555550100", "+15555550101"):
        cmd = SendSms(tenant_id="acme", phone=phone, from_number="+15555550000", body=body, kind="reply",
                      campaign_id="spring", flow_id="welcome", step="offer", variant="b")
        (fact,) = await handle_outbound(cmd, ctx)
        assert fact.outcome == "sent"
        async with ctx.sessions() as session:
            row = await session.get(OutboundMessage, fact.message_id)
        sent[phone] = row

    codes = {}
    for phone, row in sent.items():
        m = re.fullmatch(r"New arrivals: https://go\.acme\.example/l/([A-Za-z0-9_-]{12}) "
                         r"Reply STOP to opt out", row.text)
        assert m, row.text
        codes[phone] = m.group(1)
    assert len(set(codes.values())) == 2  # one link per subscriber

    async with ctx.sessions() as session:
        link = await session.get(Link, codes["+15555550101"])
    assert (link.tenant_id, link.phone, link.url, link.message_id) == (
        "acme", "+15555550101", "https://shop.example/shoes", sent["+15555550101"].id)
    assert (link.campaign_id, link.flow_id, link.step, link.variant, link.tag) == (
        "spring", "welcome", "offer", "b", "shoe-offer")

    resp = await client.get(f"/l/{codes['+15555550101']}", headers={"User-Agent": "Mozilla/5.0 (iPhone)"})
    assert resp.status_code == 302 and resp.headers["location"] == "https://shop.example/shoes"
    async def human_clicks():
        return [c for c in clicks if not c.is_bot]

    (click,) = await eventually(human_clicks)
    assert (click.phone, click.message_id, click.campaign_id, click.step, click.variant, click.tag) == (
        "+15555550101", sent["+15555550101"].id, "spring", "offer", "b", "shoe-offer")


async def test_a_link_with_a_ttl_expires(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    cmd = SendSms(tenant_id="acme", phone="+15555550100", from_number="+15555550000", kind="reply",
                  body="24h only: {link:https://shop.example/flash|ttl=4h}")
    (fact,) = await handle_outbound(cmd, ctx)
    async with ctx.sessions() as session:
        link = (await session.scalars(select(Link).where(Link.message_id == fact.message_id))).one()
    assert (link.expires_at - link.created_at).total_seconds() == 4 * 3600

