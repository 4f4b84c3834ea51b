"""Vonage SMS API: real payload shapes (GET, form and JSON) through verify → parse → normalise,
and the signature methods pinned to published test vectors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingress.carriers.base import Concat, RawRequest, Refused
from services.ingress.carriers.harness import NOW, Case, read_payload, run_case
from services.ingress.carriers.vonage import adapter as vonage

FORM = "application/x-www-form-urlencoded"
HMAC_SHA256 = {"signature_secret": "MyVonageSignatureSecret", "signature_method": "sha256"}

CASES = [
    Case("GET inbound, numbers without '+'", "inbound_get.txt", method="GET",
         expect={"phone": "+2349067554729", "to": "2020", "to_is_short_code": True, "body": "Join",
                 "carrier_message_id": "external1"}),
    Case("form POST inbound", "inbound_post.txt", expect={"phone": "+2349067554729", "body": "Join"}),
    Case("JSON POST inbound", '{"msisdn": "447700900001", "to": "447700900000", "messageId": "0A01", '
         '"text": "Hi there", "type": "text", "message-timestamp": "2020-01-01 12:00:00"}',
         content_type="application/json",
         expect={"phone": "+447700900001", "to": "+447700900000", "body": "Hi there",
                 "carrier_received_at": datetime(2020, 1, 1, 12, tzinfo=UTC)}),
    Case("signed with HMAC-SHA256", "inbound_post.txt", creds=HMAC_SHA256, expect={"body": "Join"}),
    Case("signed with HMAC-SHA512", "inbound_post.txt",
         creds={**HMAC_SHA256, "signature_method": "sha512"}, expect={"body": "Join"}),
    Case("api-key must match when configured", "inbound_post.txt",
         creds={**HMAC_SHA256, "api_key": "abcd1234"}, status=403, code="wrong_account"),
    Case("signed with the wrong method", "inbound_post.txt", creds=HMAC_SHA256,
         sign_with={**HMAC_SHA256, "signature_method": "md5hash"}, status=403, code="bad_signature"),
    Case("unknown signature method configured", "inbound_post.txt",
         creds={**HMAC_SHA256, "signature_method": "rot13"}, sign_with=HMAC_SHA256, status=403,
         code="bad_credentials"),
    Case("unsigned (signing not enabled at Vonage)", "inbound_post.txt", sign=False, status=403,
         code="missing_signature"),
    Case("placeholder numbers in a captured payload", "inbound_nexmo_capture.txt", status=422,
         code="bad_phone"),
    Case("a concatenated part carries its place", "inbound_concat_2.txt",
         expect={"body": "into three parts on the way ", "carrier_message_id": "0A00000012345672"}),
    Case("concat-part beyond concat-total", "msisdn=447700900001&to=447700900000&messageId=x1&text=a"
         "&concat=true&concat-ref=1&concat-total=2&concat-part=3", status=422, error="concat"),
    Case("binary message ignored", "msisdn=447700900001&to=447700900000&messageId=b1&type=binary"
         "&data=0102&udh=050003", events=0),
    Case("missing messageId", "msisdn=447700900001&to=447700900000&text=hi", status=422,
         error="'messageId'"),
    Case("receipt: delivered", "dlr_delivered.txt", kind="status",
         expect={"phone": "+447700900000", "status": "delivered", "error_code": None,
                 "carrier_message_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}),
    Case("receipt: recipient opted out (err-code 9)", "dlr_opted_out.json", kind="status",
         content_type="application/json",
         expect={"status": "failed", "error_code": "9", "recipient_opted_out": True}),
    Case("GET receipt without msisdn", "dlr_get_delivered.txt", kind="status", method="GET",
         status=422, error="'msisdn'"),
    Case("receipt with status unknown is ignored", "msisdn=447700900000&to=AcmeInc&messageId=m1"
         "&status=unknown&err-code=1", kind="status", events=0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_inbound_and_status_table(case: Case) -> None:
    run_case(vonage.adapter, case)


def _vector(method: str, sig: str) -> RawRequest:
    body = read_payload("vonage", "inbound_signed_vector.txt").replace(
        "663c593f2e32965787e332ceb5c7f367", sig)
    return RawRequest("POST", "https://x/webhooks/vonage/acme/inbound", {"content-type": FORM}, body.encode())


@pytest.mark.parametrize("method, sig", [
    ("md5hash", "663c593f2e32965787e332ceb5c7f367"),
    ("md5", "cb0dcaed10499457c2f41558c17602ba"),
    ("sha256", "410943debd880a7d673a998adefe9a27a335a22a2dbbdeaca6d04dd88dfcf5ed"),
    ("sha256", "410943DEBD880A7D673A998ADEFE9A27A335A22A2DBBDEACA6D04DD88DFCF5ED"),
])
def test_the_published_signature_vectors_verify(method: str, sig: str) -> None:
    creds = {"signature_secret": "MyVonageSignatureSecret", "signature_method": method,
             "api_key": "abcd1234"}
    vonage.verify(_vector(method, sig), creds, NOW)
    with pytest.raises(Refused):
        vonage.verify(_vector(method, sig), {**creds, "signature_secret": "other"}, NOW)


def test_the_sdk_vector_for_hmac_sha256():
    fields = {"param1": "value1", "param2": "value2", "timestamp": "1234567890"}
    assert vonage.signature(fields, "signature_secret", "sha256") == \
        "280c4320703dbc98bfa22db676655ed2acfbfe8792b062ff7622e67f1183c287"


def test_a_concatenated_part_is_parsed_with_its_reference():
    req = RawRequest("POST", "https://x", {"content-type": FORM},
                     read_payload("vonage", "inbound_concat_1.txt").encode())
    assert vonage.parse_inbound(req).concat == Concat(ref="108", total=3, part=1)
