"""Vonage client against a fake Vonage SMS API on 127.0.0.1."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from services.sender.carriers.base import Failed, Retry, Sent
from services.sender.carriers.fakes import CREDENTIALS, Forced
from services.sender.carriers.harness import MESSAGE, ClientCase, run_client_case, standard_cases
from services.sender.carriers.vonage import client

CASES = [
    *standard_cases(),
    ClientCase("status 1 (throttled) in a 200 is retried", (Forced(200, code="1"),), calls=2, jitter=True),
    ClientCase("status 7 (number barred) is permanent", recipient_opted_out=True, expect=Failed),
    ClientCase("no answer is not repeated", (Forced(200, hang=1.0),), expect=Failed, uncertain=True,
               read_timeout=0.2),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
async def test_vonage(case):
    await run_client_case(client, case)


async def test_request_is_a_form_with_key_and_secret_and_numbers_without_plus():
    result = await run_client_case(client, ClientCase("accepted"))
    (call,) = result.calls
    assert call.path == "/sms/json"
    form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
    creds = CREDENTIALS["vonage"]
    assert form == {"api_key": creds["api_key"], "api_secret": creds["api_secret"],
                    "from": MESSAGE.from_[1:], "to": MESSAGE.to[1:], "text": MESSAGE.text,
                    "client-ref": MESSAGE.message_id, "callback": MESSAGE.status_url,
                    "status-report-req": "1"}
    assert isinstance(result.outcome, Sent)


def test_ucs2_messages_are_sent_as_unicode():
    import dataclasses

    msg = dataclasses.replace(MESSAGE, text="Привет", unicode=True)
    form = parse_qs(client.build_request(msg, CREDENTIALS["vonage"]).content.decode())
    assert form["type"] == ["unicode"]


def test_errors_come_in_a_200_and_the_status_decides():
    internal = httpx.Response(200, json={"messages": [{"status": "5", "error-text": "Internal Error"}]})
    invalid = httpx.Response(200, json={"messages": [{"status": "3", "error-text": "Invalid to"}]})
    assert isinstance(client.read_response(internal), Retry)
    assert client.read_response(invalid) == Failed("Vonage 3: Invalid to", "3")
