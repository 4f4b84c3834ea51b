"""Bad input over HTTP: each is a clear JSON error with the right status, one log line and one
count by reason, and nothing reaches the bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import structlog
from prometheus_client import REGISTRY

from libs.common.events import sms_inbound
from libs.common.events.base import utcnow
from services.ingress.carriers.harness import read_payload, signed_request
from services.ingress.tests.support import add_tenant


@dataclass(frozen=True)
class Bad:
    label: str
    carrier: str
    payload: str
    status: int
    code: str
    tenant: str = "acme"
    kind: str = "inbound"
    method: str = "POST"
    sign_with: dict | None = None
    content_type: str | None = None
    signed_ago: timedelta = timedelta(0)
    headers: dict = field(default_factory=dict)
    sign: bool = True


BAD = [
    Bad("unknown carrier", "pigeon", "x=1", 404, "unknown_carrier"),
    Bad("unknown tenant", "twilio", "inbound_sms.txt", 404, "unknown_tenant", tenant="nobody"),
    Bad("GET where the carrier posts", "twilio", "inbound_sms.txt", 405, "method", method="GET"),
    Bad("carrier without credentials", "twilio", "inbound_sms.txt", 403, "no_credentials", tenant="bare"),
    Bad("bad signature", "twilio", "inbound_sms.txt", 403, "bad_signature",
        sign_with={"auth_token": "guessed"}),
    Bad("missing signature", "plivo", "inbound.txt", 403, "missing_signature", sign=False),
    Bad("wrong account id", "twilio", "inbound_sms.txt", 403, "wrong_account", tenant="strict"),
    Bad("stale Telnyx timestamp", "telnyx", "inbound.json", 403, "stale_timestamp",
        signed_ago=timedelta(seconds=400)),
    Bad("Basic credentials missing", "bandwidth", "inbound.json", 401, "missing_signature", sign=False),
    Bad("wrong content type", "generic", "from=1", 415, "content_type",
        content_type="application/x-www-form-urlencoded"),
    Bad("malformed form", "twilio", "From=%2B1&&", 400, "malformed"),
    Bad("malformed JSON", "telnyx", '{"data": [', 400, "malformed"),
    Bad("missing required field", "plivo", "From=14155550100&Text=hi&MessageUUID=u1", 422, "missing_field"),
    Bad("unparseable phone number", "generic", '{"from": "not-a-number", "to": "+15555550000", "body": "x"}',
        422, "bad_phone"),
    Bad("body over 64 KiB", "generic", '{"body": "' + "x" * 70_000 + '"}', 413, "too_large"),
]


def refused(carrier: str, kind: str, code: str) -> float:
    label = carrier if carrier != "pigeon" else "unknown"
    return REGISTRY.get_sample_value("parley_webhooks_total", {
        "carrier": label, "kind": kind, "outcome": f"refused_{code}"}) or 0.0


@pytest.mark.parametrize("bad", BAD, ids=lambda b: b.label)
async def test_bad_input_is_a_clear_error_a_log_line_and_a_count_by_reason(ingress, probe, bad: Bad):
    app, client = ingress
    await add_tenant(app.state.ctx, "bare", credentials={})
    await add_tenant(app.state.ctx, "strict", credentials={"twilio": {"auth_token": "6789",
                                                                      "account_sid": "AC-other"}})
    body = read_payload(bad.carrier, bad.payload) if bad.payload.endswith((".txt", ".json")) else bad.payload
    carrier_for_signing = bad.carrier if bad.carrier != "pigeon" else "simulator"
    signed = signed_request(carrier_for_signing, bad.kind, body, tenant=bad.tenant, sign=bad.sign,
                            content_type=bad.content_type, creds=bad.sign_with,
                            now=utcnow() - bad.signed_ago, base_url="http://parley.test")
    path = signed.url.removeprefix("http://parley.test").replace("/simulator/", f"/{bad.carrier}/")
    before = refused(bad.carrier, bad.kind, bad.code)

    with structlog.testing.capture_logs() as logs:
        resp = await client.request(bad.method, path, content=signed.body if bad.method == "POST" else None,
                                    headers={**signed.headers, **bad.headers})

    assert resp.status_code == bad.status, resp.text
    assert resp.json()["code"] == bad.code and resp.json()["detail"]
    assert refused(bad.carrier, bad.kind, bad.code) == before + 1
    lines = [line for line in logs if line["event"] == "webhook_refused"]
    assert [(line["code"], line["status"]) for line in lines] == [(bad.code, bad.status)]
    assert await probe.settle(sms_inbound.TOPIC, "+14133881111") == []


async def test_no_secret_reaches_a_log_line(ingress):
    _, client = ingress
    signed = signed_request("twilio", "inbound", read_payload("twilio", "inbound_sms.txt"),
                            creds={"auth_token": "guessed-token"}, base_url="http://parley.test")
    with structlog.testing.capture_logs() as logs:
        await client.post(signed.url.removeprefix("http://parley.test"), content=signed.body,
                          headers=signed.headers)
    text = repr(logs)
    assert "6789" not in text and "guessed-token" not in text and logs
