"""Bandwidth client against a fake Bandwidth Messaging v2 API on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from services.sender.carriers.bandwidth import client
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


# --- looking up a send whose outcome is unknown ----------------------------------------------------

async def test_a_message_bandwidth_accepted_is_found_by_number_pair_segments_and_time():
    result = await run_lookup(client, send_first=True)
    assert result.verdict == Found(result.sent.carrier_message_id, "delivered")
    fields = result.fake.calls[-1].fields
    assert (fields["sourceTn"], fields["destinationTn"], fields["messageDirection"]) == (
        MESSAGE.from_, MESSAGE.to, "OUTBOUND")
    assert (fields["fromDateTime"], fields["toDateTime"]) == ("2026-11-20T16:59:59.000Z",
                                                              "2026-11-20T17:00:40.000Z")


async def test_a_message_that_never_reached_bandwidth_is_not_found():
    assert isinstance((await run_lookup(client, send_first=False)).verdict, NotFound)


def _item(mid: str, **extra):
    return {"messageId": mid, "sourceTn": MESSAGE.from_, "destinationTn": MESSAGE.to, "segmentCount": 1,
            "messageStatus": "SENT", "receiveTime": "2026-11-20T17:00:02.000Z", **extra}


def test_two_messages_alike_leave_it_unknown_unless_parley_holds_one_of_them():
    payload = {"totalCount": 2, "pageInfo": {}, "messages": [_item("a"), _item("b")]}
    assert isinstance(client.read_lookup(listed(payload), SOUGHT), Unknown)
    known = replace(SOUGHT, known=frozenset({"a"}))
    assert client.read_lookup(listed(payload), known) == Found("b", "sent")


def test_a_list_cut_short_leaves_it_unknown():
    payload = {"totalCount": 300, "pageInfo": {"nextPageToken": "x"},
               "messages": [_item("a", segmentCount=2)]}
    assert isinstance(client.read_lookup(listed(payload), SOUGHT), Unknown)
