"""Bandwidth v2: arrays of callbacks through verify (HTTP Basic) → parse → normalise."""

from __future__ import annotations

import pytest

from services.ingress.carriers.bandwidth import adapter as bandwidth
from services.ingress.carriers.harness import Case, run_case

FAILED_TO_MEXICO = ('[{"type": "message-failed", "time": "2016-09-14T18:20:16Z", '
                    '"description": "forbidden to country", "to": "+525512345678", "errorCode": 4432, '
                    '"message": {"id": "14762070468292kw2fuqty55yp2b2", "to": ["+525512345678"], '
                    '"from": "+12345678901", "text": "", "owner": "+12345678901", "direction": "out"}}]')

CASES = [
    Case("inbound message-received", "inbound.json",
         expect={"phone": "+12065551234", "to": "+12345678902", "body": "hello world",
                 "carrier_message_id": "14762070468292kw2fuqty55yp2b2", "segments": 1,
                 "media_urls": ["https://messaging.bandwidth.com/api/v2/users/{accountId}/media/"
                                "14762070468292kw2fuqty55yp2b2/0/bw.png"]}),
    Case("one array, two recipients and a receipt", "group_inbound_and_receipt.json", events=3,
         expect={"to": "+12345678902", "body": "hello group"}),
    Case("receipt: message-sending", "sending.json", kind="status",
         expect={"phone": "+15554443333", "status": "sent", "carrier_message_id": "12345"}),
    Case("receipt: message-delivered", "delivered.json", kind="status",
         expect={"phone": "+12345678902", "status": "delivered", "error_code": None}),
    Case("receipt: message-failed to courier's impossible +52 number", "failed.json", kind="status",
         status=422, code="bad_phone"),
    Case("receipt: message-failed with errorCode", FAILED_TO_MEXICO, kind="status",
         expect={"phone": "+525512345678", "status": "failed", "error_code": "4432",
                 "error_detail": "forbidden to country"}),
    Case("wrong password", "inbound.json", sign_with={"username": "bw-callbacks", "password": "guess"},
         status=403, code="bad_signature"),
    Case("no credentials sent: challenged", "inbound.json", sign=False, status=401,
         code="missing_signature"),
    Case("not Basic", "inbound.json", sign=False, headers={"Authorization": "Bearer abc"}, status=401),
    Case("an object, not an array", '{"type": "message-received"}', status=422, error="array"),
    Case("an empty array", "[]", status=422),
    Case("unknown callback type ignored", '[{"type": "message-read", "message": {"id": "1"}}]', events=0),
    Case("message without from", '[{"type": "message-received", "to": "+12345678902", '
         '"message": {"id": "1", "text": "hi"}}]', status=422, error="'message.from'"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_callback_table(case: Case) -> None:
    run_case(bandwidth.adapter, case)


def test_a_challenge_names_the_basic_scheme():
    result = run_case(bandwidth.adapter, Case("unsigned", "inbound.json", sign=False, status=401))
    assert result.headers["WWW-Authenticate"].startswith("Basic ")
