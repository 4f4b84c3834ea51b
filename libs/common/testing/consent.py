"""Test setup: a subscriber who has already consented (as a confirmed double opt-in would leave
them), so scenarios about marketing messages do not each replay the opt-in conversation; and a
number's consent record as the API reports it."""

from __future__ import annotations

from libs.common.db.models.router import Consent


async def subscribe(ctx, tenant_id: str, phone: str, program_id: str = "default") -> None:
    async with ctx.sessions() as session, session.begin():
        row = await session.get(Consent, (tenant_id, program_id, phone))
        if row is None:
            session.add(Consent(tenant_id=tenant_id, program_id=program_id, phone=phone,
                                status="opted_in", updated_at=ctx.clock()))
        else:
            row.status = "opted_in"


async def consent_of(client, headers, phone: str) -> dict:
    """`GET /v1/consent/{phone}`: the number's current consent per program and its history."""
    resp = await client.get(f"/v1/consent/{phone}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()
