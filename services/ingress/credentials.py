"""Tenants' carrier credentials, read on every webhook, kept in memory for a few seconds.

Only found credentials are kept (an unknown tenant or carrier is asked again every time, so a tenant
created a moment ago is served at once). A request that fails verification against kept
credentials is checked once more against freshly read ones, so newly set credentials work at once;
credentials replaced or removed stay valid for at most `TTL_S` on replicas that had them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from libs.common.secrets import CredentialBox
from libs.common.service import Ctx
from services.ingress import store

TTL_S = 10.0
MAX_ENTRIES = 10_000
_KEY = "ingress.credentials"

Entry = tuple[float, dict[str, str]]


class CredentialCache:
    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[str, str], Entry] = {}

    async def get(self, ctx: Ctx, tenant_id: str, carrier: str, *,
                  fresh: bool = False) -> tuple[bool, dict[str, str] | None, bool]:
        """(tenant exists, its credentials or None, whether they came from memory)."""
        key = (tenant_id, carrier)
        entry = self._entries.get(key)
        if entry is not None and not fresh and self._clock() - entry[0] < self._ttl_s:
            return True, entry[1], True
        box = CredentialBox(ctx.settings.secret_key.get_secret_value())
        async with ctx.sessions() as session:
            found, creds = await store.tenant_credentials(session, box, tenant_id, carrier)
        if creds is None:
            self._entries.pop(key, None)
        else:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (self._clock(), creds)
        return found, creds, False


def cache(ctx: Ctx) -> CredentialCache:
    """The cache of this process's ingress (one per app context)."""
    existing = ctx.state.get(_KEY)
    if existing is None:
        existing = ctx.state[_KEY] = CredentialCache()
    return existing
