"""Twilio: real payload shapes through verify → parse → normalise, signatures made by the official
`twilio` package's RequestValidator."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from services.ingress.carriers.base import RawRequest, Refused
from services.ingress.carriers.harness import NOW, Case, build, outcome, read_payload, run_case
from services.ingress.carriers.twilio import adapter as twilio
from services.ingress.carriers.twilio.adapter import decode_possible_base64

BASE64_DECODED = "Bannon Explains The World ...\n\u201cThe Camp of the Saints"

CASES = [
    Case("signed inbound SMS", "inbound_sms.txt",
         expect={"phone": "+14133881111", "to": "+12028831111", "body": "Msg",
                 "carrier_message_id": "SMe287d7109a5a925f182f0e07fe5b223b", "segments": 1,
                 "to_is_short_code": False, "media_urls": []}),
    Case("MMS with two media URLs", "inbound_mms.txt",
         expect={"media_urls": ["cat.jpg", "dog.jpg"], "body": "Msg"}),
    Case("short code recipient kept as is and marked", "inbound_short_code.txt",
         expect={"to": "384387", "to_is_short_code": True, "body": "John Cruz"}),
    Case("base64 concatenated body decoded", "inbound_base64.txt",
         expect={"body": BASE64_DECODED,
                 "normalised_body": 'Bannon Explains The World ... "The Camp of the Saints'}),
    Case("OptOutType carried as a hint", "inbound_opt_out.txt",
         expect={"body": "STOP", "carrier_opt_out_hint": "STOP"}),
    Case("AccountSid matches the tenant's account", "inbound_sms.txt",
         creds={"auth_token": "6789", "account_sid": "acctid"}, expect={"body": "Msg"}),
    Case("forged signature", "inbound_sms.txt", sign_with={"auth_token": "not-the-token"}, status=403,
         code="bad_signature"),
    Case("missing signature", "inbound_sms.txt", sign=False, status=403, code="missing_signature"),
    Case("signed by another account", "inbound_sms.txt",
         creds={"auth_token": "6789", "account_sid": "AC-someone-else"}, status=403, code="wrong_account"),
    Case("no auth token configured", "inbound_sms.txt", creds={"account_sid": "acctid"},
         sign_with={"auth_token": "6789"}, status=403, code="no_credentials"),
    Case("JSON instead of a form", '{"From": "+14133881111"}', content_type="application/json",
         status=415, code="content_type"),
    Case("malformed form", "From=%2B1&&Body", status=400, code="malformed"),
    Case("missing From", "MessageSid=SM1&To=%2B12028831111&Body=hi", status=422, error="'From'"),
    Case("unparseable phone number", "MessageSid=SM1&From=call+me&To=%2B12028831111&Body=hi",
         status=422, code="bad_phone"),
    Case("short code sender refused", "MessageSid=SM1&From=384387&To=%2B12028831111&Body=hi",
         status=422, error="short code"),
    Case("receipt: delivered", "status_delivered.txt", kind="status",
         expect={"phone": "+12028831111", "status": "delivered", "error_code": None,
                 "carrier_message_id": "SMe287d7109a5a925f182f0e07fe5b223b"}),
    Case("receipt: recipient opted out (21610)", "status_opted_out.txt", kind="status",
         expect={"status": "failed", "error_code": "21610", "recipient_opted_out": True}),
    Case("receipt without To", "status_minimal.txt", kind="status", status=422, error="'To'"),
    Case("receipt to a 4-digit number", "status_extra_short_to.txt", kind="status", status=422,
         code="bad_phone"),
    Case("receipt for an inbound status is ignored",
         "MessageSid=SM1&MessageStatus=received&To=%2B12028831111", kind="status", events=0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_inbound_and_status_table(case: Case) -> None:
    run_case(twilio.adapter, case)


def test_a_signature_from_twilios_request_validator_is_accepted_and_one_changed_parameter_is_not():
    case = Case("signed", "inbound_sms.txt")
    req = build(twilio.adapter, case)
    validator = RequestValidator("6789")
    form = dict(pair.split("=", 1) for pair in req.body.decode().split("&"))
    assert validator.validate(req.url, _decoded(form), req.headers["x-twilio-signature"])
    assert not isinstance(outcome(twilio.adapter, case, req), Refused)

    changed = req.body.replace(b"Body=Msg", b"Body=Msh")
    forged = RawRequest("POST", req.url, req.headers, changed)
    result = outcome(twilio.adapter, case, forged)
    assert isinstance(result, Refused) and result.status == 403


def _decoded(form: dict[str, str]) -> dict[str, str]:
    from urllib.parse import unquote_plus

    return {k: unquote_plus(v) for k, v in form.items()}


def test_the_documented_signature_vector_verifies_with_and_without_the_default_port():
    body = read_payload("twilio", "inbound_sms.txt").encode()
    url = "https://example.com/c/t/8eb23e93-5ecb-45ba-b726-3b064e0c56ab/receive"
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-twilio-signature": "sAYRME4u7MHti2sU4rFUW4qFzl4="}
    twilio.verify(RawRequest("POST", url, headers, body), {"auth_token": "6789"}, NOW)
    with_port = url.replace("example.com", "example.com:443")
    twilio.verify(RawRequest("POST", with_port, headers, body), {"auth_token": "6789"}, NOW)


def test_twilios_published_example_signature():
    params = ("CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030"
              "&To=%2B18005551212")
    req = RawRequest("POST", "https://mycompany.com/myapp.php?foo=1&bar=2",
                     {"content-type": "application/x-www-form-urlencoded",
                      "x-twilio-signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}, params.encode())
    twilio.verify(req, {"auth_token": "12345"}, NOW)


def test_a_shared_key_signature_uses_its_own_secret_and_algorithm():
    case = Case("shared key", "inbound_sms.txt")
    req = build(twilio.adapter, case)
    form = _decoded(dict(pair.split("=", 1) for pair in req.body.decode().split("&")))
    signature = RequestValidator("shared-key-secret").compute_signature(req.url, form, "HMAC_SHA256")
    headers = {**req.headers, "x-twilio-signature": signature,
               "x-twilio-webhooks-signature-settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    signed = RawRequest("POST", req.url, headers, req.body)
    twilio.verify(signed, {"auth_token": "6789", "shared_key_secret": "shared-key-secret"}, NOW)
    with pytest.raises(Refused) as refused:
        twilio.verify(signed, {"auth_token": "6789"}, NOW)
    assert refused.value.code == "no_credentials"


@pytest.mark.parametrize("text", [
    "hello", "STOP", "a" * 80, "TWFu " * 20, "Abcd" * 20,
    "ThisIsOneLongPasswordLikeWordWithNoSpacesAtAll0123456789abcdefgh",
])
def test_ordinary_bodies_are_not_mistaken_for_base64(text: str) -> None:
    assert decode_possible_base64(text) == text
