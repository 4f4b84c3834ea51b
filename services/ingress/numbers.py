"""Which tenant owns the number a subscriber texted: read from the sender's `sending_number`,
kept in memory for a few seconds (it is asked on every inbound message).

A number belongs to at most one tenant. A message that arrives on one tenant's webhook for a number
another tenant registered is not the first tenant's to route. A number nobody registered is left
to the webhook's tenant, as before numbers were registered at all. A kept answer that would refuse a
message is re-read once, so a number moved to the webhook's tenant is routed to it at once; a
number another tenant registers is enforced within `TTL_S`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from libs.common.service import Ctx
from services.ingress import store

TTL_S = 10.0
MAX_ENTRIES = 10_000
_KEY = "ingress.number_owners"


class NumberOwners:
    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, str | None]] = {}

    async def owner(self, ctx: Ctx, number: str, *, fresh: bool = False) -> tuple[str | None, bool]:
        """(the owning tenant or None, whether the answer came from memory)."""
        entry = self._entries.get(number)
        if entry is not None and not fresh and self._clock() - entry[0] < self._ttl_s:
            return entry[1], True
        async with ctx.sessions() as session:
            owner = await store.number_owner(session, number)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[number] = (self._clock(), owner)
        return owner, False

    async def is_foreign(self, ctx: Ctx, tenant_id: str, number: str) -> bool:
        """Whether `number` belongs to a tenant other than `tenant_id`."""
        owner, cached = await self.owner(ctx, number)
        if owner in (None, tenant_id):
            return False
        if cached:
            owner, _ = await self.owner(ctx, number, fresh=True)
        return owner not in (None, tenant_id)


def owners(ctx: Ctx) -> NumberOwners:
    """The cache of this process's ingress (one per app context)."""
    existing = ctx.state.get(_KEY)
    if existing is None:
        existing = ctx.state[_KEY] = NumberOwners()
    return existing
