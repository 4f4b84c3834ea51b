"""Telnyx: real payload shapes through verify → parse → normalise, signed with a real Ed25519 key
through PyNaCl."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from nacl.signing import SigningKey

from services.ingress.carriers.base import RawRequest, Refused
from services.ingress.carriers.harness import NOW, TELNYX_SEED, Case, build, outcome, read_payload, run_case
from services.ingress.carriers.telnyx import adapter as telnyx

OTHER_KEY = {"public_key": base64.b64encode(bytes(SigningKey(b"\x07" * 32).verify_key)).decode()}

CASES = [
    Case("signed message.received", "inbound.json",
         expect={"phone": "+13125550001", "to": "+17735550002", "body": "Hello from Telnyx!",
                 "carrier_message_id": "84cca175-9755-4859-b67f-4730d7f58aa3", "segments": 1,
                 "carrier_received_at": datetime(2024, 1, 15, 20, 16, 7, 503000, tzinfo=UTC)}),
    Case("MMS media URLs", "inbound_mms.json",
         expect={"media_urls": ["https://media.telnyx.com/example-image.png"], "body": ""}),
    Case("a receipt on the inbound URL is ignored", "sent.json", events=0),
    Case("signed by another key", "inbound.json", creds=OTHER_KEY,
         sign_with={"public_key": "unused: the harness signs with its seed"}, status=403,
         code="bad_signature"),
    Case("missing signature headers", "inbound.json", sign=False, status=403, code="missing_signature"),
    Case("timestamp 301 s old", "inbound.json", signed_at=NOW - timedelta(seconds=301), status=403,
         code="stale_timestamp"),
    Case("timestamp 301 s ahead", "inbound.json", signed_at=NOW + timedelta(seconds=301), status=403,
         code="stale_timestamp"),
    Case("timestamp 299 s old still accepted", "inbound.json", signed_at=NOW - timedelta(seconds=299),
         expect={"body": "Hello from Telnyx!"}),
    Case("public key that is not a key", "inbound.json", creds={"public_key": "bm90IGEga2V5"},
         sign_with={}, status=403, code="bad_credentials"),
    Case("form instead of JSON", "data=1", content_type="application/x-www-form-urlencoded",
         status=415),
    Case("malformed JSON", '{"data": ', status=400, code="malformed"),
    Case("data is not an object", '{"data": []}', status=422),
    Case("missing from", '{"data": {"event_type": "message.received", "id": "e1", "payload": '
         '{"id": "m1", "to": [{"phone_number": "+17735550002"}], "text": "hi"}}}', status=422,
         error="data.payload.from"),
    Case("receipt: message.sent", "sent.json", kind="status",
         expect={"phone": "+13125550002", "status": "sent",
                 "carrier_message_id": "ac012cbf-5e09-46af-a69a-7c0e2d90993c"}),
    Case("receipt: message.finalized delivered", "finalized.json", kind="status",
         expect={"status": "delivered", "error_code": None, "recipient_opted_out": False,
                 "carrier_occurred_at": datetime(2024, 1, 15, 21, 32, 14, 148000, tzinfo=UTC)}),
    Case("receipt: blocked by STOP (40300)", "finalized_blocked_by_stop.json", kind="status",
         expect={"status": "failed", "error_code": "40300", "recipient_opted_out": True,
                 "error_detail": "Blocked due to STOP message"}),
    Case("an inbound message on the status URL is ignored", "inbound.json", kind="status", events=0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_inbound_and_status_table(case: Case) -> None:
    run_case(telnyx.adapter, case)


def test_the_synthetic_vector_verifies_and_a_one_character_change_does_not():
    body = read_payload("telnyx", "inbound_stop_vector.json").encode()
    headers = {"content-type": "application/json", "telnyx-timestamp": "1705349767",
               "telnyx-signature-ed25519": "KiYvoZ56IwPGrTRApEjGvs3gMgcdcifB8bu/sWhreWA/sbITI3qzXTq"
                                           "NJPt5E3nPslqdlKfK8aq3oxVPo514AA=="}
    at = datetime.fromtimestamp(1705349767 + 10, UTC)
    creds = {"public_key": "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="}
    telnyx.verify(RawRequest("POST", "https://x", headers, body), creds, at)
    with pytest.raises(Refused) as refused:
        telnyx.verify(RawRequest("POST", "https://x", headers, body.replace(b"STOP", b"STOQ")), creds, at)
    assert refused.value.code == "bad_signature"


def test_a_pynacl_signature_over_another_timestamp_is_refused():
    case = Case("signed", "inbound.json")
    req = build(telnyx.adapter, case)
    stamp = str(int(NOW.timestamp()) + 1)  # signed for one second, sent claiming another
    signature = SigningKey(TELNYX_SEED).sign(stamp.encode() + b"|" + req.body).signature
    resigned = RawRequest("POST", req.url, {**req.headers, "telnyx-signature-ed25519":
                                            base64.b64encode(signature).decode()}, req.body)
    result = outcome(telnyx.adapter, case, resigned)
    assert isinstance(result, Refused) and result.code == "bad_signature"
