"""Router consumers: thin async shells around `decide`."""

from __future__ import annotations

import structlog

from libs.common.bus import InvalidEvent
from libs.common.events import Event
from libs.common.events.sms_inbound import InboundSms
from libs.common.phone import mask
from libs.common.service import Ctx
from services.router import tenants
from services.router.decide import TenantRules, decide

log = structlog.get_logger("parley.router")


async def handle_inbound(event: InboundSms, ctx: Ctx) -> list[Event]:
    async with ctx.sessions() as session:
        tenant = await tenants.get(session, event.tenant_id)
    if tenant is None:
        raise InvalidEvent(f"unknown tenant {event.tenant_id!r}")
    actions = decide(event, TenantRules(brand=tenant.brand, help_text=tenant.help_text))
    log.info("decided", tenant=event.tenant_id, phone=mask(event.phone),
             stage="foundation", rule=actions[0].kind if actions else None)
    return actions
