"""Vonage client against a fake Vonage SMS API on 127.0.0.1."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from services.sender.carriers.base import Failed, Found, Retry, Sent, Unknown
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


# --- looking up a send whose outcome is unknown ----------------------------------------------------

async def test_a_message_vonage_accepted_is_found_by_its_client_ref_in_the_reports_records():
    result = await run_lookup(client, send_first=True)
    assert result.verdict == Found(result.sent.carrier_message_id, "delivered")
    lookup = result.fake.calls[-1]
    assert lookup.path == "/v2/reports/records"
    assert {k: lookup.fields[k] for k in ("product", "direction", "date_start", "date_end")} == {
        "product": "SMS", "direction": "outbound", "date_start": "2026-11-20T16:59:59Z",
        "date_end": "2026-11-20T17:00:40Z"}


async def test_a_message_missing_from_vonages_records_stays_unknown():
    result = await run_lookup(client, send_first=False)
    assert isinstance(result.verdict, Unknown) and "minutes late" in result.verdict.reason


def test_a_reports_api_the_account_lacks_leaves_it_unknown():
    assert isinstance(client.read_lookup(listed({"title": "Forbidden"}, 403), SOUGHT), Unknown)
