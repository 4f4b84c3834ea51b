"""The demo tenant's simulated sending number, +15555550000."""

from __future__ import annotations

from libs.common.db.models.sender import SendingNumber
from libs.common.service import Ctx

DEMO_TENANT = "demo"
DEMO_NUMBER = "+15555550000"


async def ensure_demo_number(ctx: Ctx) -> None:
    if not ctx.settings.demo:
        return
    async with ctx.sessions() as session, session.begin():
        if await session.get(SendingNumber, (DEMO_TENANT, DEMO_NUMBER)) is None:
            session.add(SendingNumber(tenant_id=DEMO_TENANT, number=DEMO_NUMBER,
                                      carrier="simulator", number_type="long_code",
                                      is_default=True, created_at=ctx.clock()))
