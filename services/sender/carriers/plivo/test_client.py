"""Plivo client against a fake Plivo Message API on 127.0.0.1."""

from __future__ import annotations

import base64
import json

import pytest

from services.sender.carriers.base import Failed, Found, NotFound, Sent, Unknown
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


# --- looking up a send whose outcome is unknown ----------------------------------------------------

async def test_a_message_plivo_accepted_is_found_by_number_pair_units_and_time():
    result = await run_lookup(client, send_first=True)
    assert result.verdict == Found(result.sent.carrier_message_id, "delivered")
    fields = result.fake.calls[-1].fields
    assert fields["message_direction"] == "outbound"
    assert (fields["message_time__gte"], fields["message_time__lte"]) == ("2026-11-20 16:59:59",
                                                                          "2026-11-20 17:00:40")


async def test_a_message_that_never_reached_plivo_is_not_found():
    assert isinstance((await run_lookup(client, send_first=False)).verdict, NotFound)


def _mdr(uuid: str, **extra):
    return {"message_uuid": uuid, "from_number": "13125550000", "to_number": "12125550100", "units": 1,
            "message_state": "sent", "message_time": "2026-11-20 17:00:02.1+00:00", **extra}


@pytest.mark.parametrize("label, payload", [
    ("two messages of the same pair and size", {"meta": {"next": None}, "objects": [_mdr("a"), _mdr("b")]}),
    ("more than one page in the window",
     {"meta": {"next": "/v1/…&offset=20"}, "objects": [_mdr("x", units=2)]}),
    ("an answer without meta", {"objects": []}),
])
def test_lookup_is_unknown_when_the_list_cannot_tell(label, payload):
    assert isinstance(client.read_lookup(listed(payload), SOUGHT), Unknown), label


def test_a_message_of_another_size_or_pair_is_not_this_one():
    payload = {"meta": {"next": None}, "objects": [_mdr("a", units=2), _mdr("b", to_number="12125550199")]}
    assert isinstance(client.read_lookup(listed(payload), SOUGHT), NotFound)
