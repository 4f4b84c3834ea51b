"""`POST /v1/conversations/start` answers what happened to each message it asked for: the
sender's verdict (sent, deferred until when, suppressed and why, failed), read from the sender's
`outbound_message` rows, or `pending` when none came within `wait` seconds. Both profiles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.db.models.sender import OutboundMessage
from libs.common.events.sms_outbound import SendSms
from libs.common.testing.app import running
from libs.common.testing.consent import subscribe
from libs.common.testing.phone import Phone
from services.router import outcomes
from services.router.flows.model import Flow

START_URL = "/v1/conversations/start"


async def start(client, headers, phone, flow_id, **params):
    return await client.post(START_URL, headers=headers, params={"wait": 10, **params},
                             json={"phone": phone, "flow_id": flow_id})


async def test_a_marketing_flow_without_consent_answers_suppressed_with_the_reason(playbooks):
    _ctx, client, headers = playbooks
    resp = await start(client, headers, "+15555550501", "reengagement")
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["flow_id"] == "reengagement" and answer["consent"] is None
    (message,) = answer["messages"]
    assert message["status"] == "suppressed" and message["rule"] == "consent"
    assert message["reason"] == "no marketing consent recorded for program 'default'"
    assert message["body"].startswith("We miss you at Acme Shoes!") and message["action_id"]
    held = await client.get(f"/v1/messages/{message['message_id']}", headers=headers)
    assert held.json()["status"] == "suppressed"  # the same verdict the sender shows
    await Phone(client, "+15555550501").nothing_more()


async def test_with_consent_the_answer_says_sent(playbooks):
    ctx, client, headers = playbooks
    await subscribe(ctx, "acme", "+15555550502")
    resp = await start(client, headers, "+15555550502", "reengagement")
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["consent"] == "opted_in"
    assert [(m["status"], m["rule"], m["reason"]) for m in answer["messages"]] == [("sent", None, None)]
    (received,) = await Phone(client, "+15555550502").receive()
    assert received.startswith("We miss you at Acme Shoes!")


async def test_a_message_held_by_quiet_hours_answers_deferred_until_the_window_opens(playbooks):
    ctx, client, headers = playbooks
    resp = await client.put("/v1/messages/settings", headers=headers, json={
        "quiet_hours_start": "16:00", "quiet_hours_end": "21:00",
        "fallback_timezone": "America/New_York"})
    assert resp.status_code == 200, resp.text
    await subscribe(ctx, "acme", "+15555550503")
    resp = await start(client, headers, "+15555550503", "reengagement")  # 10:00 in New York
    assert resp.status_code == 200, resp.text
    (message,) = resp.json()["messages"]
    assert (message["status"], message["rule"]) == ("deferred", "quiet_hours")
    assert datetime.fromisoformat(message["until"]) == datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


async def test_a_reply_flow_needs_no_marketing_consent(playbooks):
    _ctx, client, headers = playbooks
    resp = await start(client, headers, "+15555550504", "feedback")
    assert resp.status_code == 200, resp.text
    assert [m["status"] for m in resp.json()["messages"]] == ["sent"]


async def test_the_same_idempotency_key_answers_the_same_messages(playbooks):
    _ctx, client, headers = playbooks
    keyed = {**headers, "Idempotency-Key": "order-9"}
    first = (await start(client, keyed, "+15555550505", "reengagement")).json()
    again = (await start(client, keyed, "+15555550505", "reengagement")).json()
    assert first["messages"] == again["messages"] and len(first["messages"]) == 1


@pytest.mark.parametrize("wait", ["-1", "11", "soon"])
async def test_a_bad_wait_is_422_naming_it(playbooks, wait):
    _ctx, client, headers = playbooks
    resp = await client.post(START_URL, headers=headers, params={"wait": wait},
                             json={"phone": "+15555550506", "flow_id": "feedback"})
    assert resp.status_code == 422 and "wait" in resp.text


@pytest.fixture
async def router_alone(settings):
    """The router without a sender: nothing ever settles the messages it publishes."""
    from services.router.app import service
    from services.router.demo import load_playbooks

    async with running([service()], settings) as (app, client):
        resp = await client.post("/v1/tenants", headers={"Authorization": "Bearer test-admin-token"},
                                 json={"id": "acme", "name": "Acme"})
        assert resp.status_code == 201, resp.text
        ctx = app.state.ctx
        async with ctx.sessions() as session, session.begin():
            await load_playbooks(session, "acme", ctx.clock())
        yield ctx, client, {"Authorization": f"Bearer {resp.json()['api_key']}"}


async def test_messages_the_sender_has_not_decided_on_are_pending_with_202(router_alone):
    _ctx, client, headers = router_alone
    resp = await start(client, headers, "+15555550507", "feedback", wait=0.2)
    assert resp.status_code == 202, resp.text
    (message,) = resp.json()["messages"]
    assert message["status"] == "pending" and message["until"] is None and message["reason"] is None
    assert message["body"].startswith("Thanks for your order")


def _cmd(body: str = "Hello") -> SendSms:
    return SendSms(tenant_id="acme", phone="+15555550100", body=body, kind="marketing", action_id="a1")


def _row(status: str, **fields) -> OutboundMessage:
    return OutboundMessage(id="m1", action_id="a1", status=status, body="Hello", **fields)


@pytest.mark.parametrize("row, expect", [
    (None, ("pending", None, None, None)),
    (_row("accepted"), ("pending", None, None, None)),
    (_row("sending"), ("pending", None, None, None)),
    (_row("sent", text="Hello https://go/l/x"), ("sent", None, None, None)),
    (_row("suppressed", rule="frequency_cap", reason="2 marketing messages in 24 h"),
     ("suppressed", None, "frequency_cap", "2 marketing messages in 24 h")),
    (_row("deferred", rule="quiet_hours", reason="local 22:10", next_attempt_at=datetime(2026, 11, 21, 13,
                                                                                          tzinfo=UTC)),
     ("deferred", datetime(2026, 11, 21, 13, tzinfo=UTC), "quiet_hours", "local 22:10")),
    (_row("failed", rule="carrier", reason="HTTP 400"), ("failed", None, "carrier", "HTTP 400")),
], ids=["not yet recorded", "accepted", "sending", "sent", "suppressed", "deferred", "failed"])
def test_a_senders_row_becomes_a_verdict(row, expect):
    verdict = outcomes.verdict(_cmd(), row)
    assert (verdict.status, verdict.until, verdict.rule, verdict.reason) == expect
    assert verdict.settled == (expect[0] != "pending")
    assert verdict.message_id == (None if row is None else "m1")


def test_the_body_preview_is_what_went_out_and_is_short():
    assert outcomes.verdict(_cmd(), _row("sent", text="Hello https://go/l/x")).body == "Hello https://go/l/x"
    long = outcomes.verdict(_cmd("x" * 500), None).body
    assert len(long) == outcomes.PREVIEW and long.endswith("…")


@pytest.mark.parametrize("kind", ["transactional", "compliance"])
def test_a_flow_cannot_call_itself_transactional_or_compliance(kind):
    with pytest.raises(ValueError, match="kind"):
        Flow.model_validate({"id": "sneaky", "start": "a", "kind": kind,
                             "steps": {"a": {"prompt": "50% off!"}}})
