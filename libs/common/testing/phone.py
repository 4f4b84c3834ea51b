"""A simulated phone for scenarios: text Parley through the simulator webhook, read what arrives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from libs.common.testing.app import eventually

# Where scenario tests start their hand-moved clock (a weekday afternoon: no quiet hours).
START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A clock tests move by hand: `ctx.clock = clock`."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Phone:
    client: httpx.AsyncClient
    number: str
    tenant: str = "acme"
    parley: str = "+15555550000"
    seen: int = 0
    inbox: list[dict] = field(default_factory=list)

    async def text(self, body: str, message_id: str | None = None) -> None:
        resp = await self.client.post(f"/webhooks/simulator/{self.tenant}/inbound", json={
            "from": self.number, "to": self.parley, "body": body, "id": message_id or uuid.uuid4().hex})
        assert resp.status_code == 200, resp.text

    async def new_messages(self) -> list[dict]:
        resp = await self.client.get(f"/simulator/{self.tenant}/outbox",
                                     params={"to": self.number, "after": self.seen})
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def receive(self, count: int = 1, timeout: float = 20.0) -> list[str]:
        """Wait for exactly the next `count` messages and return their bodies."""

        async def probe():
            got = await self.new_messages()
            return got if len(got) >= count else None

        got = (await eventually(probe, timeout=timeout))[:count]
        self.seen = got[-1]["seq"]
        self.inbox.extend(got)
        return [m["body"] for m in got]

    async def nothing_more(self) -> None:
        assert await self.new_messages() == [], "the phone received an unexpected message"
