"""Forwarding messages to a tenant's own webhook (the `webhook` action), signed and retried.

Each delivery is a POST of JSON with `X-Parley-Timestamp` and `X-Parley-Signature` =
hex(HMAC-SHA256(secret, "{timestamp}.{body}")), so the receiver can check both origin and
freshness. Failures are retried with exponential backoff (1 s, 2 s, 4 s … capped at an hour) up to
`MAX_ATTEMPTS`, then marked failed. A 3xx is a failure like any other: redirects are not followed.

Only public destinations are called (`destinations`, through `guarded_http`'s client): a refused
one fails the delivery at once with the reason, never retried. A placeholder host (`.example`,
`.invalid`, example.com …) is never called: the delivery is marked `skipped`. Every outcome is
counted in `parley_outgoing_webhooks_total{outcome}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import timedelta

import httpx
import orjson
import structlog
from sqlalchemy import select, update

from libs.common.db.models.router import OutgoingWebhook
from libs.common.observability import OUTGOING_WEBHOOKS
from libs.common.service import Ctx
from services.router import destinations, guarded_http

log = structlog.get_logger("parley.router.forwarding")

MAX_ATTEMPTS = 10
POLL_SECONDS = 1.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 2 ** max(0, attempts - 1)))


LEASE = timedelta(minutes=2)  # a claimed delivery is retried if its worker dies mid-attempt


async def deliver_due(ctx: Ctx, client: httpx.AsyncClient, limit: int = 50) -> int:
    """Claim due deliveries in a short transaction, call out with no transaction open (a slow
    receiver must not hold database locks), then record each outcome. `client` is one from
    `guarded_http.client`: it is what checks the addresses a host resolves to."""
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        query = (select(OutgoingWebhook).where(OutgoingWebhook.status == "pending",
                                               OutgoingWebhook.next_attempt_at <= now)
                 .order_by(OutgoingWebhook.next_attempt_at).limit(limit))
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = []
        for row in list(await session.scalars(query)):
            # Conditional claim, as for timers: only one worker moves a row's lease forward.
            won = await session.execute(
                update(OutgoingWebhook).where(OutgoingWebhook.id == row.id,
                                              OutgoingWebhook.next_attempt_at == row.next_attempt_at)
                .values(next_attempt_at=now + LEASE, attempts=row.attempts + 1)
                .execution_options(synchronize_session=False))
            if won.rowcount == 1:
                claimed.append((row.id, row.url, row.secret, row.payload, row.attempts + 1, row.tenant_id))
    for delivery_id, url, secret, payload, attempts, tenant_id in claimed:
        outcome, error = await _attempt(ctx, client, delivery_id, url, secret, payload)
        async with ctx.sessions() as session, session.begin():
            row = await session.get(OutgoingWebhook, delivery_id)
            row.last_error = error
            if outcome in FINAL:
                row.status = FINAL[outcome]
            elif attempts >= MAX_ATTEMPTS:
                row.status, outcome = "failed", "gave_up"
            else:
                row.status, row.next_attempt_at = "pending", ctx.clock() + backoff(attempts)
        OUTGOING_WEBHOOKS.labels(outcome=outcome).inc()
        _log(outcome, tenant=tenant_id, delivery=delivery_id, host=_host(url), attempts=attempts,
             error=error)
    return len(claimed)


# Outcomes that settle a delivery at once (anything else is a failed attempt: retry or give up).
FINAL = {"delivered": "delivered", "refused": "failed", "skipped": "skipped"}


def _log(outcome: str, **fields) -> None:
    if outcome == "skipped":
        log.info("webhook_skipped", reason=fields.pop("error"), **fields)
    elif outcome == "refused":
        log.warning("webhook_refused", reason=fields.pop("error"), **fields)
    else:
        log.info("webhook_attempt", ok=outcome == "delivered", outcome=outcome, **fields)


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host
    except httpx.InvalidURL:
        return "?"


async def _attempt(ctx: Ctx, client: httpx.AsyncClient, delivery_id: str, url: str,
                   secret: str | None, payload: dict) -> tuple[str, str | None]:
    """(delivered | refused | skipped | retry, the error). Definitions saved before these rules
    existed are judged here too."""
    if reason := destinations.url_refusal(url, ctx.settings.webhook_allow_private):
        return "refused", reason
    if destinations.is_placeholder(httpx.URL(url).host):
        return "skipped", "placeholder host"
    try:
        resp = await _post(client, delivery_id, url, secret, payload, ctx.clock())
    except destinations.Refused as exc:
        return "refused", exc.reason
    except httpx.HTTPError as exc:
        return "retry", repr(exc)
    if resp.is_success:
        return "delivered", None
    if resp.is_redirect:
        location = resp.headers.get("location", "")[:200]
        return "retry", f"HTTP {resp.status_code}: redirects are not followed (to {location})"
    return "retry", f"HTTP {resp.status_code}"


async def _post(client: httpx.AsyncClient, delivery_id: str, url: str, secret: str | None,
                payload: dict, now) -> httpx.Response:
    body = orjson.dumps({"id": delivery_id, **payload})
    timestamp = str(int(now.timestamp()))
    headers = {"content-type": "application/json", "x-parley-timestamp": timestamp,
               "x-parley-delivery": delivery_id}
    if secret:
        headers["x-parley-signature"] = sign(secret, timestamp, body)
    return await client.post(url, content=body, headers=headers)


async def forwarding_loop(ctx: Ctx) -> None:
    async with guarded_http.client(ctx.settings.webhook_allow_private) as client:
        while True:
            try:
                await deliver_due(ctx, client)
            except Exception as exc:
                log.warning("forwarding_loop_error", error=repr(exc))
            await asyncio.sleep(POLL_SECONDS)
