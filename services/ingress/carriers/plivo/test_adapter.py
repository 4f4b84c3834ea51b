"""Plivo: real payload shapes through verify → parse → normalise; V3 and V2 signatures pinned to
the published and synthetic test vectors."""

from __future__ import annotations

import pytest

from services.ingress.carriers.base import RawRequest, Refused
from services.ingress.carriers.harness import NOW, Case, read_payload, run_case
from services.ingress.carriers.plivo import adapter as plivo

FORM = "application/x-www-form-urlencoded"
VECTOR_URL = "https://example.com/c/pl/8eb23e93-5ecb-45ba-b726-3b064e0c56ab/receive"
VECTOR_TOKEN = {"auth_token": "MyPlivoAuthToken"}
V2 = {"X-Plivo-Signature-V2": "1eM8FbQzT+oVQorkZlxHVLxD2o3xewlC+xe+uWIWtas=",
      "X-Plivo-Signature-V2-Nonce": "05429567804466091622"}

CASES = [
    Case("signed inbound SMS (V3), numbers without '+'", "inbound.txt",
         expect={"phone": "+60124361111", "to": "2020", "to_is_short_code": True, "body": "Hello",
                 "carrier_message_id": "abc1234", "segments": 1}),
    Case("the header comment's example", "inbound_header_example.txt",
         expect={"body": "Msg", "carrier_message_id": "7a242edc-2f57-11e7-98c9-06ab0bf64327"}),
    Case("MessageIntent carried as a hint", "inbound_opt_out.txt",
         expect={"body": "STOP", "carrier_opt_out_hint": "optout", "phone": "+14155550100",
                 "to": "+14155550000"}),
    Case("MMS media in order", "From=14155550100&To=14155550000&Type=mms&Body=look&MessageUUID=mm1"
         "&MediaCount=2&Media1=https%3A%2F%2Fm%2F2.jpg&Media0=https%3A%2F%2Fm%2F1.jpg",
         expect={"media_urls": ["https://m/1.jpg", "https://m/2.jpg"], "body": "look"}),
    Case("WhatsApp is not SMS", "From=14155550100&To=14155550000&Type=whatsapp&Body=hi&MessageUUID=w1",
         events=0),
    Case("V3 signed with another token", "inbound.txt", sign_with={"auth_token": "other"},
         status=403, code="bad_signature"),
    Case("no signature headers", "inbound.txt", sign=False, status=403, code="missing_signature"),
    Case("missing MessageUUID", "From=14155550100&To=14155550000&Text=hi", status=422,
         error="'MessageUUID'"),
    Case("receipt: delivered, keyed by the parent message", "status_delivered.txt", kind="status",
         expect={"phone": "+918553651111", "status": "delivered", "error_code": None,
                 "carrier_message_id": "83876bdb-2033-4876-bfaf-0ff8693705af"}),
    Case("receipt with lower-case status of a multipart part", "status_lowercase.txt", kind="status",
         expect={"status": "sent", "carrier_message_id": "12345", "phone": "+60124361111"}),
    Case("receipt: recipient opted out (200)", "status_opted_out.txt", kind="status",
         expect={"status": "failed", "error_code": "200", "recipient_opted_out": True}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_inbound_and_status_table(case: Case) -> None:
    run_case(plivo.adapter, case)


def _vector(headers: dict[str, str], body: str | None = None) -> RawRequest:
    lowered = {k.lower(): v for k, v in headers.items()}
    return RawRequest("POST", VECTOR_URL, {"content-type": FORM, **lowered},
                      (body or read_payload("plivo", "inbound.txt")).encode())


def test_the_v3_vector_verifies_and_covers_the_body():
    headers = {"X-Plivo-Signature-V3": "Z68p+HCOG9wLJxDswSYtTT5VW1SgXOmOmn/XtFQZ2WE=",
               "X-Plivo-Signature-V3-Nonce": "05429567804466091622"}
    plivo.verify(_vector(headers), VECTOR_TOKEN, NOW)
    with pytest.raises(Refused):
        plivo.verify(_vector(headers, read_payload("plivo", "inbound.txt").replace("Hello", "Hellp")),
                     VECTOR_TOKEN, NOW)


def test_v3_accepts_any_of_several_comma_separated_signatures():
    headers = {"X-Plivo-Signature-V3": "bm9wZQ==, Z68p+HCOG9wLJxDswSYtTT5VW1SgXOmOmn/XtFQZ2WE=",
               "X-Plivo-Signature-V3-Nonce": "05429567804466091622"}
    plivo.verify(_vector(headers), VECTOR_TOKEN, NOW)


def test_the_v2_vectors_verify_the_url_and_nonce_only():
    plivo.verify(_vector(V2), VECTOR_TOKEN, NOW)
    assert plivo.signature_v2("https://answer.url", "12345", "my_auth_token") == \
        "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc="
    with pytest.raises(Refused):
        plivo.verify(RawRequest("POST", VECTOR_URL + "/other", _vector(V2).headers, b"To=1"),
                     VECTOR_TOKEN, NOW)


def test_the_main_account_v2_header_is_accepted():
    headers = {"X-Plivo-Signature-Ma-V2": V2["X-Plivo-Signature-V2"],
               "X-Plivo-Signature-V2-Nonce": V2["X-Plivo-Signature-V2-Nonce"]}
    plivo.verify(_vector(headers), VECTOR_TOKEN, NOW)
