"""The embedded demo tenant `demo`: created once; its API key kept in PARLEY_DATA_DIR."""

from __future__ import annotations

import os

import structlog

from libs.common.service import Ctx
from services.router import tenants

log = structlog.get_logger("parley.demo")

DEMO_TENANT = "demo"


async def ensure_demo_tenant(ctx: Ctx) -> None:
    if not ctx.settings.demo:
        return
    key_file = ctx.settings.data_dir / "demo-api-key"
    async with ctx.sessions() as session, session.begin():
        if await tenants.get(session, DEMO_TENANT) is None:
            _, key = await tenants.create(session, DEMO_TENANT, "Parley Demo", "Parley Demo",
                                          None, ctx.clock())
        elif key_file.exists():
            key = key_file.read_text().strip()
        else:  # the key file was removed: issue a fresh key
            key = await tenants.add_key(session, DEMO_TENANT, ctx.clock())
    ctx.settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    os.chmod(key_file, 0o600)
    ctx.state["demo_api_key"] = key
