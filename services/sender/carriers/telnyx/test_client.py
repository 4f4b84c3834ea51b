"""Telnyx client against a fake Telnyx v2 messages API on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from services.sender.carriers.base import Failed, Retry, Sent
from services.sender.carriers.fakes import CREDENTIALS, Forced
from services.sender.carriers.harness import MESSAGE, SOUGHT, ClientCase, run_client_case, standard_cases
from services.sender.carriers.telnyx import client

CASES = [
    *standard_cases(),
    ClientCase("40300: blocked due to STOP", recipient_opted_out=True, expect=Failed, opted_out=True),
    ClientCase("no answer is repeated with the same Idempotency-Key", (Forced(200, hang=1.0),), calls=2,
               jitter=True, read_timeout=0.2, same_request=True),
    ClientCase("an attempt still running at the end of its window is left to be repeated",
               (Forced(200, hang=2.0),), expect=Retry, deadline_s=0.3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
async def test_telnyx(case):
    await run_client_case(client, case)


async def test_request_is_json_with_bearer_key_and_the_message_id_as_idempotency_key():
    result = await run_client_case(client, ClientCase("accepted"))
    (call,) = result.calls
    assert call.path == "/v2/messages"
    assert call.headers["authorization"] == f"Bearer {CREDENTIALS['telnyx']['api_key']}"
    assert call.headers["idempotency-key"] == MESSAGE.message_id
    assert json.loads(call.body) == {"from": MESSAGE.from_, "to": MESSAGE.to, "text": MESSAGE.text,
                                     "webhook_url": MESSAGE.status_url}
    assert isinstance(result.outcome, Sent)


def test_a_body_is_byte_identical_when_built_again():
    creds = CREDENTIALS["telnyx"]
    assert client.build_request(MESSAGE, creds).content == client.build_request(MESSAGE, creds).content


def test_telnyx_sends_are_repeated_with_their_key_rather_than_looked_up():
    assert client.build_lookup(SOUGHT, CREDENTIALS["telnyx"]) is None
