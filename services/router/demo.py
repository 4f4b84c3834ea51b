"""The demo tenant `demo` (PARLEY_DEMO): created once, its API key kept in
PARLEY_DATA_DIR/demo-api-key, and the shipped playbooks and campaign keywords loaded (without
overwriting the tenant's own edits). The key in that file always works: when the services run
apart on PostgreSQL and the embedded suite ran before with the same data directory, the file's
key is added to the tenant rather than replaced, so what an operator copied keeps working."""

from __future__ import annotations

import os

import structlog
from sqlalchemy import select

from libs.common.db.models.router import CampaignRule, FlowDefinition, Program
from libs.common.db.models.tenancy import ApiKey
from libs.common.secrets import hash_api_key
from libs.common.service import Ctx
from services.router import definitions, tenants
from services.router.flows import library
from services.router.programs import DEFAULT_PROGRAM, ProgramDef

log = structlog.get_logger("parley.demo")

DEMO_TENANT = "demo"


async def ensure_demo_tenant(ctx: Ctx) -> None:
    if not ctx.settings.demo:
        return
    key_file = ctx.settings.data_dir / "demo-api-key"
    kept = key_file.read_text().strip() if key_file.exists() else ""
    async with ctx.sessions() as session, session.begin():
        if await tenants.get(session, DEMO_TENANT) is None:
            _, key = await tenants.create(session, DEMO_TENANT, "Parley Demo", "Parley Demo",
                                          None, ctx.clock())
        else:
            key = ""
        row = (await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(kept)))
               if kept else None)
        if kept and row is None:
            key = await tenants.add_key(session, DEMO_TENANT, ctx.clock(), key=kept)
        elif row is not None and row.tenant_id == DEMO_TENANT and row.revoked_at is None:
            key = kept
        elif not key:  # no usable key file (removed, or its key revoked): issue a fresh key
            key = await tenants.add_key(session, DEMO_TENANT, ctx.clock())
        await load_playbooks(session, DEMO_TENANT, ctx.clock())
    ctx.settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    os.chmod(key_file, 0o600)
    ctx.state["demo_api_key"] = key
    log.info("demo_tenant_ready", tenant=DEMO_TENANT, api_key_file=str(key_file.resolve()))


DEMO_PROGRAM = ProgramDef(id=DEFAULT_PROGRAM, name="Marketing", numbers=["+15555550000"],
                          join_keywords=["JOIN"], welcome_flow="welcome")


async def load_playbooks(session, tenant_id: str, now) -> None:
    if await session.get(Program, (tenant_id, DEFAULT_PROGRAM)) is None:
        session.add(Program(tenant_id=tenant_id, id=DEFAULT_PROGRAM,
                            definition=DEMO_PROGRAM.model_dump(mode="json"), created_at=now, updated_at=now))
    for flow in library.flows():
        if await definitions.get(session, FlowDefinition, tenant_id, flow.id) is None:
            await definitions.put(session, FlowDefinition, tenant_id, flow, now)
    for rule in library.campaigns():
        if await definitions.get(session, CampaignRule, tenant_id, rule.id) is None:
            await definitions.put(session, CampaignRule, tenant_id, rule, now)
