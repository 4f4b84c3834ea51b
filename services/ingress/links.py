"""Tracked links (`/l/{code}`): a 302 to the target and a `link.clicked` event.

Link previews are not clicks: HEAD requests, requests without a user agent and the user agents of
known unfurlers and crawlers (iMessage and WhatsApp previews, Slack, Facebook, Twitter/X…) are
recorded with `is_bot=True` so that they do not count. The redirect never waits for the bus: the
event is published after the answer went out, and a failed publish is logged and counted
(`parley_link_clicks_total{outcome="click_lost"}`) rather than making a person wait
or fail. Unknown codes get a 404 page and expired links a 410 page, never a 500.

The `link` table belongs to the sender, which creates a row per subscriber and message; ingress only
reads it.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

import structlog
from fastapi import Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.background import BackgroundTask

from libs.common.bus import BusUnavailable
from libs.common.db.models.sender import Link
from libs.common.events.link_clicked import LinkClicked
from libs.common.observability import LINK_CLICKS
from libs.common.phone import mask
from libs.common.service import Ctx
from services.ingress import store

log = structlog.get_logger("parley.ingress.links")

CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
BOT_AGENTS = (
    "bot", "crawler", "spider", "preview", "facebookexternalhit", "facebot", "slack-imgproxy",
    "whatsapp", "telegrambot", "skypeuripreview", "embedly", "vkshare", "pinterest", "quora link",
    "outbrain", "w3c_validator", "headlesschrome", "curl/", "wget/", "python-requests",
    "python-httpx", "go-http-client", "java/", "okhttp", "libwww-perl", "scrapy",
)
MAX_AGENT = 512
PAGES = {
    404: ("Link not found", "This link is not valid. Please check the message you received."),
    410: ("Link expired", "This link has expired."),
    503: ("Try again shortly", "We could not open this link just now. Please try again in a moment."),
}


def bot_reason(method: str, user_agent: str | None) -> str | None:
    """Why this request is not a person's click, or None if it is one."""
    if method == "HEAD":
        return "head_request"
    if not user_agent or not user_agent.strip():
        return "no_user_agent"
    agent = user_agent.lower()
    return "user_agent" if any(marker in agent for marker in BOT_AGENTS) else None


def click_event(link: Link, method: str, user_agent: str | None, now: datetime) -> LinkClicked:
    reason = bot_reason(method, user_agent)
    return LinkClicked(
        occurred_at=now, tenant_id=link.tenant_id, phone=link.phone, code=link.code, url=link.url,
        message_id=link.message_id, campaign_id=link.campaign_id, flow_id=link.flow_id,
        step=link.step, variant=link.variant, tag=link.tag,
        user_agent=user_agent[:MAX_AGENT] if user_agent else None, is_bot=reason is not None,
        bot_reason=reason,
    )


def page(status: int) -> HTMLResponse:
    title, text = PAGES[status]
    body = (f"<!doctype html><html lang=en><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{html.escape(title)}</title><body style='font-family:sans-serif;margin:3em'>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
    if status == 503:
        headers["Retry-After"] = "5"
    return HTMLResponse(body, status_code=status, headers=headers)


def _count(outcome: str) -> None:
    LINK_CLICKS.labels(outcome=outcome).inc()


async def _publish(ctx: Ctx, event: LinkClicked) -> None:
    try:
        await ctx.bus.emit(event)
    except BusUnavailable as exc:
        _count("click_lost")
        log.error("click_not_recorded", tenant=event.tenant_id, code=event.code, error=str(exc)[:200])
        return
    _count("bot" if event.is_bot else "click")
    log.info("link_clicked", tenant=event.tenant_id, phone=mask(event.phone), code=event.code,
             is_bot=event.is_bot, bot_reason=event.bot_reason)


async def follow(ctx: Ctx, code: str, method: str, user_agent: str | None) -> Response:
    if not CODE.match(code):
        _count("unknown")
        return page(404)
    try:
        async with ctx.sessions() as session:
            link = await store.link(session, code)
    except (SQLAlchemyError, OSError) as exc:
        _count("unavailable")
        log.error("link_lookup_failed", code=code, error=type(exc).__name__)
        return page(503)
    now = ctx.clock()
    if link is None:
        _count("unknown")
        return page(404)
    if link.expires_at is not None and link.expires_at <= now:
        _count("expired")
        return page(410)
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
    try:
        task = BackgroundTask(_publish, ctx, click_event(link, method, user_agent, now))
    except ValidationError as exc:  # a link row the event schema refuses: still take the person there
        _count("click_lost")
        log.error("click_not_recorded", tenant=link.tenant_id, code=code, error=str(exc)[:200])
        task = None
    return RedirectResponse(link.url, status_code=302, headers=headers, background=task)
