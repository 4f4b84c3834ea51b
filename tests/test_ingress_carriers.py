"""Every carrier's real payloads, signed as the carrier signs them, through the public webhook URL to
one event on the bus, on both profiles, with the credentials a tenant sets through the tenant API."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

import pytest
from nacl.signing import SigningKey
from twilio.request_validator import RequestValidator

from libs.common.events import sms_inbound, sms_status
from libs.common.events.base import utcnow
from services.ingress.carriers.harness import CREDENTIALS, read_payload, signed_request
from services.ingress.tests.support import Probe

BASE = "http://parley.test"


@dataclass(frozen=True)
class Real:
    carrier: str
    payload: str
    phone: str
    expect: dict
    content_type: str | None = None


INBOUND = [
    Real("twilio", "inbound_sms.txt", "+14133881111",
         {"to": "+12028831111", "body": "Msg", "carrier_message_id": "SMe287d7109a5a925f182f0e07fe5b223b"}),
    Real("telnyx", "inbound.json", "+13125550001",
         {"to": "+17735550002", "body": "Hello from Telnyx!",
          "carrier_message_id": "84cca175-9755-4859-b67f-4730d7f58aa3"}),
    Real("vonage", "inbound_post.txt", "+2349067554729",
         {"to": "2020", "to_is_short_code": True, "body": "Join", "carrier_message_id": "external1"}),
    Real("plivo", "inbound_opt_out.txt", "+14155550100",
         {"body": "STOP", "carrier_opt_out_hint": "optout",
          "carrier_message_id": "8c353fe0-2f57-11e7-98c9-06ab0bf64327"}),
    Real("bandwidth", "inbound.json", "+12065551234",
         {"to": "+12345678902", "body": "hello world",
          "carrier_message_id": "14762070468292kw2fuqty55yp2b2"}),
    Real("generic", "inbound.json", "+15555550100",
         {"to": "+15555550000", "body": "Yes please", "carrier_message_id": "agg-123"}),
]

RECEIPTS = [
    Real("twilio", "status_opted_out.txt", "+12028831111",
         {"status": "failed", "error_code": "21610", "recipient_opted_out": True}),
    Real("telnyx", "finalized.json", "+13125550002", {"status": "delivered", "error_code": None}),
    Real("vonage", "dlr_opted_out.json", "+447700900000",
         {"status": "failed", "error_code": "9", "recipient_opted_out": True},
         content_type="application/json"),
    Real("plivo", "status_delivered.txt", "+918553651111", {"status": "delivered"}),
    Real("bandwidth", "delivered.json", "+12345678902",
         {"status": "delivered", "carrier_message_id": "12345"}),
    Real("generic", "status.json", "+15555550100", {"status": "undelivered", "error_code": "30007"}),
]


@pytest.fixture
async def configured(suite, tenant):
    """The suite, with tenant acme's credentials for every carrier set through the tenant API."""
    app, client = suite
    for carrier, values in CREDENTIALS.items():
        if values:
            resp = await client.put(f"/v1/tenants/acme/credentials/{carrier}", headers=tenant,
                                    json={"values": values})
            assert resp.status_code == 200, resp.text
            assert resp.json()["fields"] == sorted(values)
    return app, client, await Probe.attach(app, client)


async def send(client, carrier: str, kind: str, body: str, content_type: str | None = None, **kwargs):
    signed = signed_request(carrier, kind, body, base_url=BASE, now=utcnow(), content_type=content_type,
                            **kwargs)
    return await client.post(signed.url.removeprefix(BASE), content=signed.body, headers=signed.headers)


@pytest.mark.parametrize("real", INBOUND, ids=lambda r: r.carrier)
async def test_a_real_inbound_payload_becomes_one_sms_inbound_event(configured, real: Real):
    _, client, probe = configured
    body = read_payload(real.carrier, real.payload)
    for _ in range(2):  # the carrier's retry
        resp = await send(client, real.carrier, "inbound", body, real.content_type)
        assert resp.status_code == 200, resp.text
    [event] = await probe.settle(sms_inbound.TOPIC, real.phone)
    assert (event.tenant_id, event.carrier, event.phone) == ("acme", real.carrier, real.phone)
    assert {name: getattr(event, name) for name in real.expect} == real.expect


@pytest.mark.parametrize("real", RECEIPTS, ids=lambda r: r.carrier)
async def test_a_real_receipt_becomes_one_sms_status_event(configured, real: Real):
    _, client, probe = configured
    resp = await send(client, real.carrier, "status", read_payload(real.carrier, real.payload),
                      real.content_type)
    assert resp.status_code == 200, resp.text
    [event] = await probe.settle(sms_status.TOPIC, real.phone)
    assert (event.carrier, event.phone) == (real.carrier, real.phone)
    assert {name: getattr(event, name) for name in real.expect} == real.expect


async def test_the_same_twilio_message_posted_three_times_is_one_sms_inbound_event(configured):
    _, client, probe = configured
    for _ in range(3):
        resp = await send(client, "twilio", "inbound", read_payload("twilio", "inbound_sms.txt"))
        assert resp.status_code == 200 and resp.text.endswith("<Response/>")
    events = await probe.settle(sms_inbound.TOPIC, "+14133881111")
    assert [e.carrier_message_id for e in events] == ["SMe287d7109a5a925f182f0e07fe5b223b"]


async def test_twilios_request_validator_signature_is_accepted_and_one_changed_parameter_is_not(configured):
    _, client, probe = configured
    body = read_payload("twilio", "inbound_short_code.txt")
    url = f"{BASE}/webhooks/twilio/acme/inbound"
    params = dict(parse_qsl(body, keep_blank_values=True))
    signature = RequestValidator("6789").compute_signature(url, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}

    changed = body.replace("Body=John+Cruz", "Body=John+Crux")
    resp = await client.post("/webhooks/twilio/acme/inbound", content=changed, headers=headers)
    assert resp.status_code == 403 and resp.json()["code"] == "bad_signature"
    resp = await client.post("/webhooks/twilio/acme/inbound", content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    events = await probe.settle(sms_inbound.TOPIC, "+14133881111")
    assert [(e.body, e.to, e.to_is_short_code) for e in events] == [("John Cruz", "384387", True)]


async def test_a_telnyx_signature_from_a_real_ed25519_key_is_accepted_and_another_keys_is_not(configured):
    _, client, probe = configured
    body = read_payload("telnyx", "inbound_mms.json").encode()
    stamp = str(int(utcnow().timestamp()))

    def headers(key: SigningKey) -> dict[str, str]:
        import base64

        signature = key.sign(stamp.encode() + b"|" + body).signature
        return {"Content-Type": "application/json", "telnyx-timestamp": stamp,
                "telnyx-signature-ed25519": base64.b64encode(signature).decode()}

    forged = await client.post("/webhooks/telnyx/acme/inbound", content=body,
                               headers=headers(SigningKey.generate()))
    assert forged.status_code == 403
    resp = await client.post("/webhooks/telnyx/acme/inbound", content=body,
                             headers=headers(SigningKey(bytes(range(32)))))
    assert resp.status_code == 200, resp.text
    events = await probe.settle(sms_inbound.TOPIC, "+13125550001")
    assert [e.media_urls for e in events] == [["https://media.telnyx.com/example-image.png"]]


async def test_new_credentials_set_through_the_api_replace_the_old_ones(configured, tenant):
    _, client, _ = configured
    resp = await client.put("/v1/tenants/acme/credentials/plivo", headers=tenant,
                            json={"values": {"auth_token": "rotated-token"}})
    assert resp.status_code == 200
    body = read_payload("plivo", "inbound.txt")
    assert (await send(client, "plivo", "inbound", body)).status_code == 403
    ok = await send(client, "plivo", "inbound", body, creds={"auth_token": "rotated-token"})
    assert ok.status_code == 200, ok.text
