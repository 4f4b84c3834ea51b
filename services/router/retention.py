"""Consent evidence retention: once a day, evidence older than PARLEY_CONSENT_RETENTION_DAYS
(never less than four years, the TCPA limitation period) is removed."""

from __future__ import annotations

import asyncio

import structlog

from libs.common.service import Ctx
from services.router.consent_export import purge

log = structlog.get_logger("parley.router.retention")
EVERY_SECONDS = 24 * 3600


async def retention_loop(ctx: Ctx) -> None:
    while True:
        try:
            async with ctx.sessions() as session, session.begin():
                removed = await purge(session, ctx.settings.consent_retention_days, ctx.clock())
            if removed:
                log.info("consent_evidence_purged", rows=removed, days=ctx.settings.consent_retention_days)
        except Exception as exc:
            log.warning("retention_failed", error=repr(exc))
        await asyncio.sleep(EVERY_SECONDS)
