"""Bandwidth client against a fake Bandwidth Messaging v2 API on 127.0.0.1."""

from __future__ import annotations

import base64
import json

import pytest

from services.sender.carriers.bandwidth import client
from services.sender.carriers.base import Failed, Sent
from services.sender.carriers.fakes import CREDENTIALS, Forced
from services.sender.carriers.harness import MESSAGE, ClientCase, run_client_case, standard_cases

CASES = [
    *standard_cases(),
    ClientCase("no answer is not repeated", (Forced(202, hang=1.0),), expect=Failed, uncertain=True,
               read_timeout=0.2),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
async def test_bandwidth(case):
    await run_client_case(client, case)


async def test_request_is_json_to_the_account_with_the_application_and_our_id_as_tag():
    result = await run_client_case(client, ClientCase("accepted"))
    (call,) = result.calls
    creds = CREDENTIALS["bandwidth"]
    assert call.path == f"/api/v2/users/{creds['account_id']}/messages"
    assert call.headers["authorization"] == "Basic " + base64.b64encode(
        f"{creds['username']}:{creds['password']}".encode()).decode()
    assert json.loads(call.body) == {"applicationId": creds["application_id"], "to": [MESSAGE.to],
                                     "from": MESSAGE.from_, "text": MESSAGE.text, "tag": MESSAGE.message_id}
    assert isinstance(result.outcome, Sent)


def test_api_user_credentials_win_over_the_callback_ones():
    creds = CREDENTIALS["bandwidth"] | {"api_username": "api", "api_password": "secret"}
    request = client.build_request(MESSAGE, creds)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"api:secret").decode()
