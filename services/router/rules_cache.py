"""Per-tenant compiled rules and flows, rebuilt only when a definition changed.

Compiling keyword tables and validating flows happens once per change, so matching a reply costs a
few dict look-ups (so does recognising the tenant's own numbers, whose texts are ignored). A cached
entry is trusted for `TTL_SECONDS` before its version is checked against the database again (one
small query); this process's own API writes invalidate at once, so another replica, or a sending
number registered with the sender, is seen within the TTL. An invalidation also bumps the tenant's
generation: a build that began before it (a timer or consumer reading the old rows while the API
committed) is used by its caller but not kept, so it cannot put stale rules back for a TTL. A stored
definition that no longer validates is left out (logged and counted) rather than failing every
decision of its tenant.
"""

from __future__ import annotations

import dataclasses
import time

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.observability import DEFINITION_ERRORS
from libs.common.service import Ctx
from services.router import experiments, store
from services.router.decide import TenantRules

log = structlog.get_logger("parley.router")

_KEY = "router.rules_cache"
_GENERATION = "router.rules_cache.generation"
TTL_SECONDS = 2.0


def invalidate(ctx: Ctx, tenant_id: str) -> None:
    ctx.state.setdefault(_KEY, {}).pop(tenant_id, None)
    generations = ctx.state.setdefault(_GENERATION, {})
    generations[tenant_id] = generations.get(tenant_id, 0) + 1


async def tenant_rules(ctx: Ctx, session: AsyncSession, tenant_id: str) -> TenantRules | None:
    cache: dict[str, tuple[float, tuple, TenantRules]] = ctx.state.setdefault(_KEY, {})
    generations: dict[str, int] = ctx.state.setdefault(_GENERATION, {})
    generation = generations.get(tenant_id, 0)
    hit = cache.get(tenant_id)
    if hit is not None and time.monotonic() - hit[0] < TTL_SECONDS:
        return hit[2]
    tenant = await store.tenant(session, tenant_id)
    if tenant is None:
        return None
    version = (*await store.definitions_version(session, tenant_id), tenant.brand, tenant.help_text,
               tenant.opt_out_text, tenant.opt_in_text, tenant.handoff_text, tenant.fallback_to_agent,
               tenant.revoke_all_from)
    live = await experiments.load(session, tenant_id)  # counts move on: refreshed every TTL
    if hit is not None and hit[1] == version:
        refreshed = dataclasses.replace(hit[2], experiments=live)
        if generations.get(tenant_id, 0) == generation:
            cache[tenant_id] = (time.monotonic(), version, refreshed)
        return refreshed
    loaded = await store.rules_and_flows(session, tenant_id)
    for kind, item_id, error in loaded.invalid:  # once per change of the tenant's definitions
        log.error("definition_skipped", tenant=tenant_id, kind=kind, id=item_id, error=error)
        DEFINITION_ERRORS.labels(tenant=tenant_id, kind="load").inc()
    built = TenantRules.build(tenant_id, tenant.brand, loaded.rules, loaded.flows,
                              loaded.programs or None,
                              sending_numbers=await store.sending_numbers(session, tenant_id),
                              help_text=tenant.help_text,
                              opt_out_text=tenant.opt_out_text, opt_in_text=tenant.opt_in_text,
                              handoff_text=tenant.handoff_text,
                              fallback_to_agent=tenant.fallback_to_agent,
                              revoke_all_from=tenant.revoke_all_from)
    built = dataclasses.replace(built, experiments=live)
    if generations.get(tenant_id, 0) == generation:
        cache[tenant_id] = (time.monotonic(), version, built)
    return built
