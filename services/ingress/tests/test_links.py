"""Tracked links: a person's tap is a 302 and a `link.clicked`; previews are recorded as bots;
unknown, malformed and expired codes get a page, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest

from libs.common.bus import BusUnavailable
from libs.common.db.models.sender import Link
from libs.common.events import link_clicked
from libs.common.observability import LINK_CLICKS
from libs.common.testing.app import eventually
from services.ingress.links import bot_reason

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
IMESSAGE_PREVIEW = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
                    "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0")


async def add_link(ctx, code: str = "k3J9xQ2m", **overrides) -> None:
    """Test setup straight into the sender's table (ingress only reads it)."""
    now = ctx.clock()
    values = dict(code=code, tenant_id="acme", phone="+15555550100", url="https://shop.example/shoes?a=1",
                  message_id="m1", campaign_id="spring", flow_id="welcome", step="offer", variant="b",
                  tag="shoe-offer", created_at=now, expires_at=now + timedelta(days=30))
    values.update(overrides)
    async with ctx.sessions() as session, session.begin():
        session.add(Link(**values))


async def clicks(probe, n: int) -> list:
    async def enough():
        got = probe.events[link_clicked.TOPIC]
        return got if len(got) >= n else None

    return await eventually(enough)


async def test_a_tap_redirects_and_records_the_click_with_its_campaign(ingress, probe):
    app, client = ingress
    await add_link(app.state.ctx)
    resp = await client.get("/l/k3J9xQ2m", headers={"User-Agent": IPHONE})
    assert resp.status_code == 302
    assert resp.headers["location"] == "https://shop.example/shoes?a=1"
    assert resp.headers["cache-control"] == "no-store"
    [click] = await clicks(probe, 1)
    assert (click.tenant_id, click.phone, click.code, click.campaign_id, click.flow_id, click.step,
            click.variant, click.message_id, click.user_agent, click.is_bot) == (
        "acme", "+15555550100", "k3J9xQ2m", "spring", "welcome", "offer", "b", "m1", IPHONE, False)


@pytest.mark.parametrize("method, agent, reason", [
    ("HEAD", IPHONE, "head_request"),
    ("GET", IMESSAGE_PREVIEW, "user_agent"),
    ("GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "user_agent"),
    ("GET", "WhatsApp/2.23.20.0", "user_agent"),
    ("GET", "", "no_user_agent"),
], ids=["HEAD", "iMessage preview", "Slack unfurl", "WhatsApp preview", "no user agent"])
async def test_previews_are_recorded_but_flagged_as_bots(ingress, probe, method, agent, reason):
    app, client = ingress
    await add_link(app.state.ctx)
    resp = await client.request(method, "/l/k3J9xQ2m", headers={"User-Agent": agent})
    assert resp.status_code == 302
    [click] = await clicks(probe, 1)
    assert (click.is_bot, click.bot_reason) == (True, reason)


@pytest.mark.parametrize("path, status", [
    ("/l/unknown1", 404), ("/l/bad%20code", 404), ("/l/" + "x" * 40, 404), ("/l/expired1", 410),
])
async def test_unknown_malformed_and_expired_codes_get_a_page(ingress, probe, path, status):
    app, client = ingress
    await add_link(app.state.ctx, "expired1", expires_at=app.state.ctx.clock() - timedelta(seconds=1))
    resp = await client.get(path, headers={"User-Agent": IPHONE})
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("text/html")
    assert "<h1>" in resp.text


async def test_a_bus_outage_still_takes_the_person_to_the_page(ingress, monkeypatch):
    app, client = ingress
    await add_link(app.state.ctx)

    async def broken(*args, **kwargs):
        raise BusUnavailable("broker down")

    monkeypatch.setattr(app.state.ctx.bus, "publish", broken)
    resp = await client.get("/l/k3J9xQ2m", headers={"User-Agent": IPHONE})
    assert resp.status_code == 302


def test_ordinary_browsers_are_people():
    assert bot_reason("GET", IPHONE) is None
    android = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/120.0 Mobile Safari/537.36")
    assert bot_reason("GET", android) is None


def counted() -> dict[str, float]:
    return {s.labels["outcome"]: s.value for metric in LINK_CLICKS.collect() for s in metric.samples
            if s.name.endswith("_total")}


async def test_every_tap_is_counted_by_outcome(ingress, probe, monkeypatch):
    app, client = ingress
    await add_link(app.state.ctx)
    await add_link(app.state.ctx, "expired1", expires_at=app.state.ctx.clock() - timedelta(seconds=1))
    before = counted()
    await client.get("/l/k3J9xQ2m", headers={"User-Agent": IPHONE})
    await client.head("/l/k3J9xQ2m", headers={"User-Agent": IPHONE})
    await client.get("/l/unknown1", headers={"User-Agent": IPHONE})
    await client.get("/l/expired1", headers={"User-Agent": IPHONE})

    async def broken(*args, **kwargs):
        raise BusUnavailable("broker down")

    monkeypatch.setattr(app.state.ctx.bus, "publish", broken)
    await client.get("/l/k3J9xQ2m", headers={"User-Agent": IPHONE})
    after = counted()
    assert {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)} \
        == {"click": 1, "bot": 1, "unknown": 1, "expired": 1, "click_lost": 1}
