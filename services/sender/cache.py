"""Short-lived, per-process caches of what changes rarely and is read for every send: a tenant's
sending rules, its sending numbers and its decrypted carrier credentials.

Entries live `TTL_S` seconds (wall clock, not the business clock tests move), so a change made
through another replica or service (credentials are set through the router) applies within that
time; this replica's own API calls clear the cache at once. Consent is never cached: it is read
right before every send.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.secrets import CredentialBox
from libs.common.service import Ctx
from services.sender import store
from services.sender.policy import SendingRules

TTL_S = 2.0
_MISSING = object()


@dataclass(frozen=True)
class Number:
    number: str
    carrier: str
    number_type: str
    rate_per_s: float | None


class TtlCache:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self._ttl = ttl_s
        self._items: dict[tuple, tuple[float, Any]] = {}

    def get(self, key: tuple) -> Any:
        hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return _MISSING
        return hit[1]

    def put(self, key: tuple, value: Any) -> Any:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[key] = (time.monotonic() + self._ttl, value)
        return value

    def clear(self) -> None:
        self._items.clear()


def of(ctx: Ctx) -> TtlCache:
    if "sender_cache" not in ctx.state:
        ctx.state["sender_cache"] = TtlCache()
    return ctx.state["sender_cache"]


async def rules(ctx: Ctx, session: AsyncSession, tenant_id: str) -> SendingRules:
    cache = of(ctx)
    hit = cache.get(("rules", tenant_id))
    if hit is not _MISSING:
        return hit
    return cache.put(("rules", tenant_id), await store.rules(session, tenant_id))


async def number(ctx: Ctx, session: AsyncSession, tenant_id: str, wanted: str | None) -> Number | None:
    """The registered number `wanted`, or the tenant's default when None; unknown ones are not
    remembered, so a number registered a moment ago is found."""
    cache = of(ctx)
    hit = cache.get(("number", tenant_id, wanted))
    if hit is not _MISSING:
        return hit
    row = await store.sending_number(session, tenant_id, wanted)
    if row is None:
        return None
    return cache.put(("number", tenant_id, wanted),
                     Number(row.number, row.carrier, row.number_type, row.rate_per_s))


async def credentials(ctx: Ctx, session: AsyncSession, tenant_id: str, carrier: str) -> dict[str, str] | None:
    """The tenant's decrypted credentials for `carrier`; raises ValueError when they cannot be
    decrypted with this PARLEY_SECRET_KEY."""
    cache = of(ctx)
    hit = cache.get(("creds", tenant_id, carrier))
    if hit is not _MISSING:
        return hit
    blob = await store.credentials(session, tenant_id, carrier)
    if blob is None:
        return None
    values = CredentialBox(ctx.settings.secret_key.get_secret_value()).open(blob)
    return cache.put(("creds", tenant_id, carrier), values)
