"""Twilio client against a fake Twilio Messages API on 127.0.0.1."""

from __future__ import annotations

import base64
from dataclasses import replace
from urllib.parse import parse_qs

import pytest

from services.sender.carriers.base import Failed, Found, NotFound, Retry, Sent, Unknown
from services.sender.carriers.fakes import CREDENTIALS, Forced
from services.sender.carriers.harness import (
    MESSAGE,
    SOUGHT,
    ClientCase,
    listed,
    run_client_case,
    run_lookup,
    standard_cases,
)
from services.sender.carriers.twilio import client

CASES = [
    *standard_cases(),
    ClientCase("21610: the recipient opted out at Twilio", recipient_opted_out=True, expect=Failed,
               opted_out=True),
    ClientCase("no answer is not repeated: Twilio takes no idempotency key",
               (Forced(201, hang=1.0),), expect=Failed, uncertain=True, read_timeout=0.2),
    ClientCase("an attempt still running at the end of its window is cut short, its outcome unknown",
               (Forced(201, hang=2.0),), expect=Failed, uncertain=True, deadline_s=0.3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
async def test_twilio(case):
    await run_client_case(client, case)


async def test_request_is_a_form_post_to_the_account_messages_with_basic_auth():
    result = await run_client_case(client, ClientCase("accepted"))
    (call,) = result.calls
    sid, token = CREDENTIALS["twilio"]["account_sid"], CREDENTIALS["twilio"]["auth_token"]
    assert call.path == f"/2010-04-01/Accounts/{sid}/Messages.json"
    assert call.headers["authorization"] == "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
    assert form == {"To": MESSAGE.to, "From": MESSAGE.from_, "Body": MESSAGE.text,
                    "StatusCallback": MESSAGE.status_url}
    assert isinstance(result.outcome, Sent) and result.outcome.carrier_message_id.startswith("SM")


def test_opted_out_error_is_read_with_its_code():
    import httpx

    resp = httpx.Response(400, json={"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                                     "status": 400})
    outcome = client.read_response(resp)
    assert outcome == Failed("Twilio 21610: Attempt to send to unsubscribed recipient", "21610",
                             opted_out=True)


def test_a_messaging_service_replaces_from():
    creds = CREDENTIALS["twilio"] | {"messaging_service_sid": "MG123"}
    form = parse_qs(client.build_request(MESSAGE, creds).content.decode())
    assert form["MessagingServiceSid"] == ["MG123"] and "From" not in form


# --- looking up a send whose outcome is unknown ----------------------------------------------------

def _message(sid: str, body: str = MESSAGE.text, at: str = "Fri, 20 Nov 2026 17:00:02 +0000", **extra):
    return {"sid": sid, "body": body, "direction": "outbound-api", "status": "sent", "date_created": at,
            **extra}


async def test_a_message_twilio_accepted_is_found_with_the_sid_the_send_got():
    result = await run_lookup(client, send_first=True)
    assert isinstance(result.sent, Sent)
    assert result.verdict == Found(result.sent.carrier_message_id, "sent")
    lookup = result.fake.calls[-1]
    assert lookup.method == "GET" and lookup.fields == {"To": MESSAGE.to, "From": MESSAGE.from_,
                                                         "PageSize": "100"}


async def test_a_message_that_never_reached_twilio_is_not_found():
    result = await run_lookup(client, send_first=False)
    assert isinstance(result.verdict, NotFound) and result.fake.sends == []


def test_lookup_matches_body_and_time_and_leaves_out_ids_parley_already_holds():
    other = _message("SM2", body="another text")
    early = _message("SM3", at="Fri, 20 Nov 2026 16:50:00 +0000")  # before the attempt window
    assert client.read_lookup(listed({"messages": [other, _message("SM1"), early]}), SOUGHT) == \
        Found("SM1", "sent")
    known = replace(SOUGHT, known=frozenset({"SM1"}))
    assert isinstance(client.read_lookup(listed({"messages": [_message("SM1")]}), known), NotFound)


@pytest.mark.parametrize("label, payload", [
    ("a body Twilio redacted", {"messages": [_message("SM1", body="")]}),
    ("two messages alike", {"messages": [_message("SM1"), _message("SM2")]}),
    ("a full page that does not reach back to the attempt",
     {"messages": [_message("SM9", body="later text")], "next_page_uri": "/2010-04-01/…?Page=1"}),
    ("an answer without a message list", {"code": 20003}),
])
def test_lookup_is_unknown_when_the_list_cannot_tell(label, payload):
    assert isinstance(client.read_lookup(listed(payload), SOUGHT), Unknown), label


def test_a_throttled_lookup_is_retried_later():
    assert isinstance(client.read_lookup(listed({"code": 20429}, 429), SOUGHT), Retry)
