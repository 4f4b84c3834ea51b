"""After a crash or a lost answer: a redelivery takes over at once what it safely can, leases are
sized from the carrier timeout, a worker taken over cannot record its outcome, and a send whose
outcome is unknown is looked up at the carrier — sent again only when the carrier never got it,
failed as unknown (with its reason) only when the carrier cannot tell."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import structlog
from prometheus_client import REGISTRY
from sqlalchemy import update

from libs.common.db.models.router import Consent
from libs.common.db.models.sender import OutboundMessage, SimulatedMessage
from libs.common.testing.app import eventually
from libs.common.testing.phone import START, Clock
from services.sender import attempt, recovery, sending, store
from services.sender.carriers import CLIENTS
from services.sender.carriers.base import Found, NotFound, Retry, Sent, Unknown
from services.sender.carriers.delivery import new_http_client
from services.sender.carriers.fakes import Forced
from services.sender.consumer import handle_outbound
from services.sender.deferred import run_due
from services.sender.tests.helpers import NUMBERS, command, count, message, on_fake_carrier

LOOKED_UP = ("twilio", "plivo", "bandwidth")  # carriers whose list can prove a message absent


async def _row(ctx, action_id: str) -> OutboundMessage:
    async with ctx.sessions() as session:
        return await store.message_for_action(session, action_id)


async def _left_in_sending(ctx, action_id: str, carrier: str, number: str) -> None:
    """The row as a worker killed during its carrier call leaves it: `sending`, under the action's
    bus claim, its lease running, no carrier id recorded."""
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(OutboundMessage).where(OutboundMessage.action_id == action_id).values(
            status="sending", carrier=carrier, from_number=number, claim=sending.bus_claim(action_id),
            lease_until=now + attempt.lease(ctx), attempt_started_at=now, attempts=1,
            carrier_message_id=None, sent_at=None, delivery_status=None))


def _reconciled(carrier: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("parley_send_reconciliations_total",
                                     {"carrier": carrier, "outcome": outcome}) or 0.0


async def _settled(ctx, action_id: str, status: str) -> OutboundMessage:
    """Let the deferred loop work what is due, until the row reaches `status`."""

    async def probe():
        await run_due(ctx)
        row = await _row(ctx, action_id)
        return row if row.status == status else None

    return await eventually(probe)


@asynccontextmanager
async def _on(suite, tenant, carrier: str) -> AsyncIterator[tuple]:
    """(ctx, client, fake): the tenant's number on `carrier`'s fake, both on one hand-moved clock."""
    app, client = suite
    ctx = app.state.ctx
    ctx.clock = Clock(START)
    async with on_fake_carrier(app, client, tenant, carrier) as fake:
        fake.clock = lambda: ctx.clock()
        yield ctx, client, fake


def _past_lookup_time(ctx, carrier: str) -> None:
    ctx.clock.advance(seconds=attempt.lease(ctx).total_seconds() + CLIENTS[carrier].LOOKUP_LAG_S + 1)


# --- item: a redelivery after a kill -------------------------------------------------------------

async def test_a_redelivery_takes_a_simulated_send_its_killed_first_delivery_left_at_once(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    cmd = command("act-killed")
    await sending.record(ctx, cmd, sending.bus_claim(cmd.action_id))
    await _left_in_sending(ctx, cmd.action_id, "simulator", "+15555550000")
    (event,) = await handle_outbound(cmd, ctx)  # Kafka redelivers it to the restarted sender
    assert event.outcome == "sent"
    assert await count(ctx, SimulatedMessage) == 1


async def test_a_lease_is_sized_from_the_carrier_timeout_and_the_retry_policy(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    ctx.settings.carrier_timeout_s = 2.0
    row = await sending.record(ctx, command("act-lease"), "api:w")
    # 3 tries of 2 s, 2 waits of at most 2 s between them, and the 5 s margin
    assert attempt.lease(ctx) == timedelta(seconds=15)
    assert row.lease_until - row.created_at == timedelta(seconds=15)


async def test_a_redelivery_leaves_a_send_in_flight_alone_says_why_and_it_is_looked_up_later(suite, tenant):
    async with _on(suite, tenant, "twilio") as (ctx, _, fake):
        cmd = command("act-inflight", from_number=NUMBERS["twilio"])
        (first,) = await handle_outbound(cmd, ctx)
        await _left_in_sending(ctx, cmd.action_id, "twilio", NUMBERS["twilio"])
        row = await _row(ctx, cmd.action_id)
        with structlog.testing.capture_logs() as logs:
            assert await handle_outbound(cmd, ctx) == []  # the first attempt may still be in flight
        (skipped,) = [e for e in logs if e["event"] == "send_skipped"]
        assert (skipped["message_id"], skipped["status"], skipped["holder"]) == (
            row.id, "sending", sending.bus_claim(cmd.action_id))
        assert skipped["lease_until"] == row.lease_until.isoformat() and "in flight" in skipped["why"]
        _past_lookup_time(ctx, "twilio")
        row = await _settled(ctx, cmd.action_id, "sent")
    assert len(fake.sends) == 1 and row.carrier_message_id == first.carrier_message_id


async def test_an_outcome_from_a_worker_taken_over_is_not_recorded_and_one_of_two_readers_wins(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    cmd = command("act-fenced")
    row = await sending.record(ctx, cmd, "api:first")
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(OutboundMessage).values(status="sending", carrier="simulator",
                                                             lease_until=now - timedelta(seconds=1)))
        until = now + attempt.lease(ctx)
        taken = await store.take_over(session, row.id, "sending", 0, "loop:second", now, until, None)
        again = await store.take_over(session, row.id, "sending", 0, "loop:third", now, until, "loop:second")
    assert (taken, again) == (1, None)  # read alike, only one takes it
    assert await attempt.settle(ctx, row.id, "api:first", 0, Sent("late-id")) == []
    assert (await _row(ctx, cmd.action_id)).carrier_message_id is None
    (event,) = await attempt.settle(ctx, row.id, "loop:second", 1, Sent("its-id"))
    assert (event.outcome, event.carrier_message_id) == ("sent", "its-id")


# --- item: looking up a send whose outcome is unknown ---------------------------------------------

@pytest.mark.parametrize("carrier", [*LOOKED_UP, "vonage"])
async def test_a_send_the_carrier_accepted_before_the_crash_is_found_and_not_sent_again(suite, tenant,
                                                                                      carrier):
    async with _on(suite, tenant, carrier) as (ctx, client, fake):
        cmd = command(f"act-found-{carrier}", from_number=NUMBERS[carrier])
        (first,) = await handle_outbound(cmd, ctx)
        await _left_in_sending(ctx, cmd.action_id, carrier, NUMBERS[carrier])  # killed before `sent`
        before = _reconciled(carrier, "found_sent")
        _past_lookup_time(ctx, carrier)
        row = await _settled(ctx, cmd.action_id, "sent")
        view = await message(client, tenant, row.id)
    assert len(fake.sends) == 1
    assert row.carrier_message_id == first.carrier_message_id and row.carrier_message_id in fake.sent
    assert _reconciled(carrier, "found_sent") == before + 1
    assert any(h["rule"] == "reconcile" and row.carrier_message_id in h["reason"] for h in view["history"])


@pytest.mark.parametrize("carrier", LOOKED_UP)
async def test_a_send_that_never_reached_the_carrier_is_sent_exactly_once_more(suite, tenant, carrier):
    async with _on(suite, tenant, carrier) as (ctx, client, fake):
        cmd = command(f"act-lost-{carrier}", from_number=NUMBERS[carrier])
        await sending.record(ctx, cmd, sending.bus_claim(cmd.action_id))
        await _left_in_sending(ctx, cmd.action_id, carrier, NUMBERS[carrier])  # killed before the POST
        before = _reconciled(carrier, "not_found_resent")
        _past_lookup_time(ctx, carrier)
        row = await _settled(ctx, cmd.action_id, "sent")
        await run_due(ctx)
        view = await message(client, tenant, row.id)
    assert len(fake.sends) == 1 and [row.carrier_message_id] == list(fake.sent)
    assert _reconciled(carrier, "not_found_resent") == before + 1
    assert [h["rule"] for h in view["history"]].count("reconcile_resend") == 1


async def test_a_send_vonage_has_no_record_of_fails_as_unknown_with_its_reason_and_is_never_resent(suite,
                                                                                               tenant):
    async with _on(suite, tenant, "vonage") as (ctx, client, fake):
        cmd = command("act-unknown", from_number=NUMBERS["vonage"])
        await sending.record(ctx, cmd, sending.bus_claim(cmd.action_id))
        await _left_in_sending(ctx, cmd.action_id, "vonage", NUMBERS["vonage"])
        before = _reconciled("vonage", "unknown")
        _past_lookup_time(ctx, "vonage")
        row = await _settled(ctx, cmd.action_id, "failed")
        view = await message(client, tenant, row.id)
    assert fake.sends == [] and row.rule == "carrier_unknown"
    assert "not sent again" in row.reason and "minutes late" in row.reason
    assert view["history"][-1]["rule"] == "carrier_unknown"
    assert _reconciled("vonage", "unknown") == before + 1


async def test_a_send_the_carrier_took_without_answering_is_looked_up_instead_of_failed(suite, tenant):
    async with _on(suite, tenant, "twilio") as (ctx, _, fake):
        ctx.settings.carrier_timeout_s = 0.3
        pool = attempt.tools(ctx)
        pool.http = new_http_client(ctx.settings.carrier_timeout_s)  # a pool's timeouts are set at its making
        ctx.closers.append(pool.http.aclose)
        fake.script.append(Forced(201, hang=1.0, accept=True))  # accepted; the answer never comes
        cmd = command("act-no-answer", from_number=NUMBERS["twilio"])
        assert await handle_outbound(cmd, ctx) == []
        waiting = await _row(ctx, cmd.action_id)
        assert (waiting.status, waiting.lease_until) == ("sending", attempt.look_at(ctx, waiting))
        _past_lookup_time(ctx, "twilio")
        row = await _settled(ctx, cmd.action_id, "sent")
    assert len(fake.sends) == 1 and [row.carrier_message_id] == list(fake.sent)


async def test_a_consent_withdrawn_while_a_send_waited_to_be_looked_up_stops_its_resend(suite, tenant):
    async with _on(suite, tenant, "twilio") as (ctx, _, fake):
        cmd = command("act-stopped", from_number=NUMBERS["twilio"])
        await sending.record(ctx, cmd, sending.bus_claim(cmd.action_id))
        await _left_in_sending(ctx, cmd.action_id, "twilio", NUMBERS["twilio"])
        async with ctx.sessions() as session, session.begin():
            session.add(Consent(tenant_id="acme", program_id="default", phone=cmd.phone, status="opted_out",
                                updated_at=ctx.clock()))
        _past_lookup_time(ctx, "twilio")
        row = await _settled(ctx, cmd.action_id, "suppressed")
    assert fake.sends == [] and row.rule == "consent"


# --- the decisions, as a table -----------------------------------------------------------------

T0 = START + timedelta(minutes=1)
DECISIONS = [
    ("found: sent with the carrier's id, its list status only noted", Found("SM1", "delivered"), 0, T0,
     recovery.Settle(Sent("SM1", "sent"), "found_sent", "found at twilio as SM1 (delivered): the "
                     "interrupted attempt went out")),
    ("not found: sent again", NotFound("twilio has none"), 0, T0,
     recovery.Resend("twilio has none: the interrupted attempt never reached it; sending it again")),
    ("not found after a resend: unknown, never a third try", NotFound("twilio has none"), 1, T0,
     recovery.Settle(Unknown("twilio has none, after it was already sent again once"), "unknown")),
    ("the list cannot tell: unknown", Unknown("two alike"), 0, T0,
     recovery.Settle(Unknown("two alike"), "unknown")),
    ("no list: unknown", None, 0, T0,
     recovery.Settle(Unknown("twilio offers no message list to look the message up in"), "unknown")),
    ("the list is busy: look again", Retry("HTTP 429", after=5), 0, T0,
     recovery.LookLater(T0 + recovery.LOOK_AGAIN, "HTTP 429")),
    ("the list names a longer wait: that one", Retry("HTTP 429", after=90), 0, T0,
     recovery.LookLater(T0 + timedelta(seconds=90), "HTTP 429")),
    ("the list has not answered for 15 minutes: unknown", Retry("HTTP 503"), 0, START + recovery.GIVE_UP,
     recovery.Settle(Unknown("twilio's message list did not answer for 0:15:00: HTTP 503"), "unknown")),
]


@pytest.mark.parametrize("verdict, resends, now, expected", [c[1:] for c in DECISIONS],
                         ids=[c[0] for c in DECISIONS])
def test_what_follows_a_lookup(verdict, resends, now, expected):
    assert recovery.decide(verdict, "twilio", resends=resends, now=now, first_look=START) == expected
