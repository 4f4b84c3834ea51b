"""Forwarding messages to a tenant's own webhook (the `webhook` action), signed and retried.

Each delivery is a POST of JSON with `X-Parley-Timestamp` and `X-Parley-Signature` =
hex(HMAC-SHA256(secret, "{timestamp}.{body}")), so the receiver can check both origin and
freshness. Failures are retried with exponential backoff (1 s, 2 s, 4 s … capped at an hour) up to
`MAX_ATTEMPTS`, then marked failed.
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
from libs.common.service import Ctx

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
    receiver must not hold database locks), then record each outcome."""
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
        ok, error = await _post(client, delivery_id, url, secret, payload, ctx.clock())
        async with ctx.sessions() as session, session.begin():
            row = await session.get(OutgoingWebhook, delivery_id)
            if ok:
                row.status, row.last_error = "delivered", None
            else:
                row.last_error = error
                row.status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
                row.next_attempt_at = ctx.clock() + backoff(attempts)
        log.info("webhook_attempt", tenant=tenant_id, delivery=delivery_id, ok=ok, attempts=attempts,
                 error=error)
    return len(claimed)


async def _post(client: httpx.AsyncClient, delivery_id: str, url: str, secret: str | None,
                payload: dict, now) -> tuple[bool, str | None]:
    body = orjson.dumps({"id": delivery_id, **payload})
    timestamp = str(int(now.timestamp()))
    headers = {"content-type": "application/json", "x-parley-timestamp": timestamp,
               "x-parley-delivery": delivery_id}
    if secret:
        headers["x-parley-signature"] = sign(secret, timestamp, body)
    try:
        resp = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return False, repr(exc)
    return (True, None) if resp.is_success else (False, f"HTTP {resp.status_code}")


async def forwarding_loop(ctx: Ctx) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            try:
                await deliver_due(ctx, client)
            except Exception as exc:
                log.warning("forwarding_loop_error", error=repr(exc))
            await asyncio.sleep(POLL_SECONDS)
