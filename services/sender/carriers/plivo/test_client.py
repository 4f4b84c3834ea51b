"""Plivo client against a fake Plivo Message API on 127.0.0.1."""

from __future__ import annotations

import base64
import json

import pytest

from services.sender.carriers.base import Failed, Sent
from services.sender.carriers.fakes import CREDENTIALS, Forced
from services.sender.carriers.harness import MESSAGE, ClientCase, run_client_case, standard_cases
from services.sender.carriers.plivo import client

CASES = [
    *standard_cases(),
    ClientCase("no answer is not repeated", (Forced(202, hang=1.0),), expect=Failed, uncertain=True,
               read_timeout=0.2),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
async def test_plivo(case):
    await run_client_case(client, case)


async def test_request_is_json_to_the_account_with_basic_auth():
    result = await run_client_case(client, ClientCase("accepted"))
    (call,) = result.calls
    auth_id, token = CREDENTIALS["plivo"]["auth_id"], CREDENTIALS["plivo"]["auth_token"]
    assert call.path == f"/v1/Account/{auth_id}/Message/"
    expected = "Basic " + base64.b64encode(f"{auth_id}:{token}".encode()).decode()
    assert call.headers["authorization"] == expected
    assert json.loads(call.body) == {"src": MESSAGE.from_, "dst": MESSAGE.to, "text": MESSAGE.text,
                                     "type": "sms", "url": MESSAGE.status_url, "method": "POST"}
    assert isinstance(result.outcome, Sent)
