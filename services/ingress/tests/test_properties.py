"""Random bodies, headers, methods and encodings thrown at every adapter: never a 5xx (nor an
exception other than a refusal), and never an event from a request that is not signed."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.events import link_clicked, sms_inbound, sms_status
from libs.common.events.base import utcnow
from services.ingress import carriers as carriers_package
from services.ingress.carriers import ADAPTERS
from services.ingress.carriers.base import RawRequest, Refused
from services.ingress.carriers.harness import CONTENT_TYPES as CARRIER_TYPES
from services.ingress.carriers.harness import CREDENTIALS, NOW, read_payload, signed_request
from services.ingress.intake import Intake, intake

FIELDS = ["From", "To", "Body", "Text", "MessageSid", "MessageUUID", "MessageStatus", "Status",
          "status", "NumMedia", "MediaUrl0", "NumSegments", "Units", "Type", "msisdn", "to", "from",
          "text", "messageId", "type", "concat", "concat-ref", "concat-total", "concat-part",
          "err-code", "id", "body", "media_urls", "data", "payload", "event_type", "phone_number",
          "message", "errorCode", "segments", "AccountSid", "OptOutType", "MessageIntent", "sig"]
SIGNATURE_HEADERS = ["X-Twilio-Signature", "telnyx-signature-ed25519", "telnyx-timestamp",
                     "X-Plivo-Signature-V2", "X-Plivo-Signature-V2-Nonce", "X-Plivo-Signature-V3",
                     "X-Plivo-Signature-V3-Nonce", "Authorization", "X-Parley-Signature",
                     "X-Twilio-Webhooks-Signature-Settings", "Content-Length"]
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain", "",
                 "application/json; charset=latin-1", "multipart/form-data; boundary=x",
                 "application/x-www-form-urlencoded; charset=utf-16"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
                    st.text(max_size=40), st.sampled_from(["+15555550100", "447700900001", "12345",
                                                           "message.received", "delivered", "true"]))
keys = st.sampled_from(FIELDS) | st.text(max_size=8)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(keys, inner, max_size=6), max_leaves=20)
LIKELY = st.sampled_from(["+15555550100", "+15555550000", "447700900001", "SM1", "delivered",
                          "message.received", "message-received", "text", "true", "1", "2", ""])
forms = st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=30) | LIKELY, max_size=12).map(
    lambda d: urlencode(d).encode())
encodings = st.sampled_from(["utf-8", "latin-1", "utf-16", "utf-32"])
texts = st.tuples(st.text(max_size=200), encodings).map(lambda t: t[0].encode(t[1], "replace"))
bodies = st.one_of(st.binary(max_size=300), texts, forms,
                   json_values.map(lambda v: json.dumps(v).encode()))
ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
headers = st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), ascii_text, max_size=4)
carriers = st.sampled_from(sorted(ADAPTERS))
kinds = st.sampled_from(["inbound", "status"])
TESTDATA = Path(carriers_package.__file__).parent
SAMPLES = {c: [read_payload(c, f.name).encode() for f in sorted((TESTDATA / c / "testdata").glob("*"))]
           for c in ADAPTERS if (TESTDATA / c / "testdata").is_dir()}


def real_or_damaged(carrier: str) -> st.SearchStrategy[bytes]:
    """The carrier's real payloads, as they are or with a random cut and insertion: bodies that get
    past parsing, so that only verification stands between them and the bus."""
    samples = SAMPLES.get(carrier) or [b"{}"]
    damaged = st.tuples(st.sampled_from(samples), st.integers(0, 2000), st.integers(0, 20),
                        st.binary(max_size=10)).map(
        lambda t: t[0][:min(t[1], len(t[0]))] + t[3] + t[0][min(t[1], len(t[0])) + t[2]:])
    return st.sampled_from(samples) | damaged


@settings(max_examples=600, deadline=None)
@given(carrier=carriers, kind=kinds, method=st.sampled_from(["POST", "GET"]), data=st.data(),
       extra=headers, query=forms, signed=st.booleans())
def test_intake_refuses_or_accepts_and_never_accepts_unsigned(carrier, kind, method, data, extra, query,
                                                              signed):
    adapter = ADAPTERS[carrier]
    body, content_type = _draw_body(data, carrier)
    url = f"https://parley.example/webhooks/{carrier}/acme/{kind}?{query.decode()}"
    heads = {"content-type": content_type, **{k.lower(): v for k, v in extra.items()}}
    made = _signed(signed and method == "POST", carrier, kind, body, content_type, NOW,
                   "https://parley.example")
    if made is not None:
        url, body, heads = made.url, made.body, {k.lower(): v for k, v in made.headers.items()}
    # a real payload may carry its carrier's own valid signature in its body (Vonage's `sig`):
    # a faithful replay of a signed webhook is a signed webhook
    signed = made is not None or _verifies(carrier, method, url, heads, body, NOW)
    req = RawRequest(method, url, heads, body)
    try:
        result = intake(adapter, kind, req, CREDENTIALS[carrier], tenant_id="acme", now=NOW)
    except Refused as exc:
        assert 400 <= exc.status < 500
        return
    assert isinstance(result, Intake)
    if adapter.needs_credentials and not signed:
        assert not result.accepted, "an unsigned request became an event"


@pytest.fixture
def embedded_only(profile):
    if profile != "embedded":
        pytest.skip("random traffic needs no broker; the memory bus counts records synchronously")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(carrier=carriers | st.just("pigeon"), kind=kinds, method=st.sampled_from(["POST", "GET", "PUT"]),
       data=st.data(), extra=headers, signed=st.booleans())
async def test_random_requests_over_http_are_never_a_5xx_and_unsigned_ones_publish_nothing(
        embedded_only, ingress, carrier, kind, method, data, extra, signed):
    app, client = ingress
    body, content_type = _draw_body(data, carrier)
    bus = app.state.ctx.bus
    before = _published(bus)
    path = f"/webhooks/{carrier}/acme/{kind}"
    heads = {"Content-Type": content_type, **extra}
    made = _signed(signed and carrier in ADAPTERS and method == "POST", carrier, kind, body,
                   content_type, utcnow(), "http://parley.test")
    if made is not None:
        body, heads = made.body, dict(made.headers)
    # signed by us, or a real payload that carries its carrier's own valid signature in its body
    # (Vonage's `sig`): a faithful replay of a signed webhook is a signed webhook
    signed = made is not None or _verifies(carrier, method, f"http://parley.test{path}", heads, body,
                                           utcnow())
    heads.pop("Content-Length", None)  # httpx sets the true length
    resp = await client.request(method, path, content=body if method != "GET" else None, headers=heads)
    assert resp.status_code < 500, resp.text
    if not signed or carrier not in ADAPTERS:
        after = _published(bus)
        assert after == before or (carrier == "simulator" and after >= before), resp.text


def _draw_body(data: st.DataObject, carrier: str) -> tuple[bytes, str]:
    real = data.draw(st.booleans(), label="real payload")
    if real:
        return (data.draw(real_or_damaged(carrier), label="body"),
                CARRIER_TYPES.get(carrier, "application/json"))
    return data.draw(bodies, label="body"), data.draw(st.sampled_from(CONTENT_TYPES), label="content type")


def _signed(wanted: bool, carrier: str, kind: str, body: bytes, content_type: str, now, base_url: str):
    """The request signed as its carrier would, or None (not wanted, or a body the carrier's
    signing scheme cannot even read, which then goes out unsigned)."""
    if not wanted:
        return None
    try:
        return signed_request(carrier, kind, body, content_type=content_type or None, now=now,
                              base_url=base_url)
    except (ValueError, UnicodeDecodeError, TypeError, AttributeError):
        return None


def _verifies(carrier: str, method: str, url: str, heads: dict, body: bytes, now) -> bool:
    if carrier not in ADAPTERS or carrier not in CREDENTIALS:
        return False
    req = RawRequest(method, url, {k.lower(): v for k, v in heads.items()}, body)
    try:
        ADAPTERS[carrier].verify(req, CREDENTIALS[carrier], now)
    except Exception:
        return False
    return True


def _published(bus) -> int:
    return sum(bus.published(topic) for topic in (sms_inbound.TOPIC, sms_status.TOPIC,
                                                      link_clicked.TOPIC))
