"""Inbound texts from the tenant's own numbers (its registered sending numbers, its programs'
numbers, or the very number texted) are loops, not subscribers: ignored and logged, on both
profiles, with no reply, no consent change and no conversation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from libs.common.db.models.router import Consent, ConsentAudit, Conversation, ProcessedInbound
from libs.common.events.sms_inbound import InboundSms
from libs.common.observability import IGNORED_INBOUND
from libs.common.testing.app import eventually
from libs.common.testing.phone import Phone
from services.router.decide import SubscriberState, TenantRules, decide
from services.router.flows import library
from services.router.programs import ProgramDef

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
ALERTS = ProgramDef(id="alerts", numbers=["+15555550020"])
TENANT = TenantRules.build("acme", "Acme", library.campaigns(), {f.id: f for f in library.flows()},
                           [ProgramDef(id="default"), ALERTS], sending_numbers=["+15555550010"])


def inbound(sender: str, body: str = "HELP", to: str = "+15555550000") -> InboundSms:
    return InboundSms(tenant_id="acme", phone=sender, to=to, body=body, carrier="simulator",
                      carrier_message_id="m1")


@pytest.mark.parametrize("sender, to", [
    ("+15555550000", "+15555550000"),  # from == to, even when the number is not registered
    ("+15555550010", "+15555550000"),  # another registered sending number
    ("+15555550020", "+15555550000"),  # a program's number
], ids=["itself", "sending number", "program number"])
@pytest.mark.parametrize("body", ["HELP", "STOP", "DEAL", "hello"])
def test_a_text_from_an_own_number_is_ignored(sender, to, body):
    fx = decide(inbound(sender, body, to), TENANT, SubscriberState(), NOW)
    assert (fx.stage, fx.rule) == ("ignored", "own_number")
    assert fx.sends == [] and fx.facts == [] and fx.consent is None
    assert fx.conversations == {} and fx.transcript == [] and fx.timers == []


def test_a_subscriber_is_still_answered():
    fx = decide(inbound("+15555550100"), TENANT, SubscriberState(), NOW)
    assert fx.stage == "compliance" and len(fx.sends) == 1


def ignored_count() -> float:
    return IGNORED_INBOUND.labels(reason="own_number")._value.get()


async def _processed(ctx, message_id):
    async with ctx.sessions() as session:
        return await session.scalar(select(ProcessedInbound).where(
            ProcessedInbound.carrier_message_id == message_id))


async def _count(ctx, model, *where):
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_own_numbers_get_no_reply_consent_or_conversation(playbooks):
    ctx, client, headers = playbooks
    resp = await client.post("/v1/numbers", headers=headers,
                             json={"number": "+15555550010", "carrier": "simulator"})
    assert resp.status_code == 201, resp.text
    resp = await client.put("/v1/programs/alerts", headers=headers, json={"numbers": ["+15555550020"]})
    assert resp.status_code in (200, 201), resp.text
    before = ignored_count()
    for n, (sender, body) in enumerate([("+15555550000", "HELP"), ("+15555550010", "STOP"),
                                        ("+15555550020", "DEAL")]):
        await Phone(client, sender).text(body, message_id=f"own{n}")
        ledger = await eventually(lambda n=n: _processed(ctx, f"own{n}"))
        assert ledger.events == [], f"{sender} was answered: {ledger.events}"
    assert ignored_count() - before == 3
    owned = ("+15555550000", "+15555550010", "+15555550020")
    assert await _count(ctx, Consent, Consent.phone.in_(owned)) == 0
    assert await _count(ctx, ConsentAudit, ConsentAudit.phone.in_(owned)) == 0
    assert await _count(ctx, Conversation, Conversation.phone.in_(owned)) == 0
    for number in owned:
        await Phone(client, number).nothing_more()
    subscriber = Phone(client, "+15555550100")  # everyone else is answered as before
    await subscriber.text("HELP")
    assert "Reply HELP for help" in (await subscriber.receive())[0]
