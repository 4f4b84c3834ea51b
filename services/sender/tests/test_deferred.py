"""Deferred messages live in the database: a restart resumes them, and they go at their time."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.common.testing.app import eventually, running
from libs.common.testing.consent import subscribe
from libs.common.testing.phone import Clock
from services.embedded import all_services
from services.sender.tests.helpers import message, send

NEW_YORK = "+12125550123"
NIGHT = datetime(2030, 1, 10, 7, 30, tzinfo=UTC)  # 02:30 in New York
OPENING = datetime(2030, 1, 10, 13, tzinfo=UTC)  # 08:00 in New York


async def test_a_deferred_message_survives_a_restart_and_goes_at_its_opening(settings, admin_headers):
    async with running(all_services(), settings) as (app, client):
        app.state.ctx.clock = Clock(NIGHT)
        resp = await client.post("/v1/tenants", headers=admin_headers,
                                 json={"id": "acme", "name": "Acme", "brand": "Acme Shoes"})
        headers = {"Authorization": f"Bearer {resp.json()['api_key']}"}
        await client.post("/v1/numbers", headers=headers,
                          json={"number": "+15555550000", "carrier": "simulator"})
        await subscribe(app.state.ctx, "acme", NEW_YORK)
        held = await send(client, headers, NEW_YORK, "Winter sale")
        assert held["status"] == "deferred"

    async with running(all_services(), settings) as (app, client):  # a new process, same database
        assert (await message(client, headers, held["id"]))["status"] == "deferred"
        app.state.ctx.clock = Clock(OPENING)

        async def sent():
            got = await message(client, headers, held["id"])
            return got if got["status"] == "sent" else None

        got = await eventually(sent)
    assert got["sent_at"] == "2030-01-10T13:00:00Z"
