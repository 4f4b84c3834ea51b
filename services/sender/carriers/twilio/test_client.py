"""Twilio client against a fake Twilio Messages API on 127.0.0.1."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import pytest

from services.sender.carriers.base import Failed, Sent
from services.sender.carriers.fakes import CREDENTIALS, Forced
from services.sender.carriers.harness import MESSAGE, ClientCase, run_client_case, standard_cases
from services.sender.carriers.twilio import client

CASES = [
    *standard_cases(),
    ClientCase("21610: the recipient opted out at Twilio", recipient_opted_out=True, expect=Failed,
               opted_out=True),
    ClientCase("no answer is not repeated: Twilio takes no idempotency key",
               (Forced(201, hang=1.0),), expect=Failed, uncertain=True, read_timeout=0.2),
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
