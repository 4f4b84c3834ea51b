"""Tables of real carrier payloads, run through `intake` (verify → parse → normalise), and the
signing every table, HTTP test and benchmark needs.

`run_case(adapter, case)` gives every table free checks beyond the case's own expectations: for a
case that is accepted, the same request unsigned, tampered with and without credentials is refused
and yields no event; event ids are the same on a second run (time and ids are frozen: `NOW` is
passed in); no refusal reason contains a secret. Adapters are pure, so no HTTP call can leave a
test. Signatures are made the way each carrier documents them: Twilio's with the official `twilio`
package's `RequestValidator`, Telnyx's with a real Ed25519 key through PyNaCl, the others from
their documented algorithms (their adapters' tests also pin published test vectors).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.ingress.carriers.base import Adapter, RawRequest, Refused
from services.ingress.intake import Intake, intake

NOW = datetime(2026, 11, 20, 15, 4, 5, tzinfo=UTC)
TENANT = "acme"
BASE_URL = "https://parley.example"
TELNYX_SEED = bytes(range(32))  # the synthetic vector's key in ../shared/carriers/telnyx.txt

CREDENTIALS: dict[str, dict[str, str]] = {
    "twilio": {"auth_token": "6789"},
    "telnyx": {"public_key": "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="},
    "vonage": {"signature_secret": "MyVonageSignatureSecret", "signature_method": "md5hash"},
    "plivo": {"auth_token": "MyPlivoAuthToken"},
    "bandwidth": {"username": "bw-callbacks", "password": "bw-Secret-9f8e"},
    "generic": {"secret": "generic-Secret-3c1d"},
    "simulator": {},
}
CONTENT_TYPES = {"twilio": "application/x-www-form-urlencoded", "vonage": "application/x-www-form-urlencoded",
                 "plivo": "application/x-www-form-urlencoded"}
BODY_UNSIGNED = {"bandwidth", "plivo-v2"}  # schemes whose signature does not cover the body


def read_payload(carrier: str, name: str) -> str:
    """A payload file: `#` lines name its source; the rest is the body, verbatim."""
    path = Path(__file__).parent / carrier / "testdata" / name
    lines = path.read_text().split("\n")
    return "\n".join(line for line in lines if not line.startswith("#")).strip("\n")


@dataclass(frozen=True)
class Signed:
    url: str
    headers: dict[str, str]
    body: bytes


def _sign_twilio(url: str, headers: dict[str, str], body: bytes, creds: Mapping[str, str],
                 now: datetime) -> Signed:
    from twilio.request_validator import RequestValidator

    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    signature = RequestValidator(creds["auth_token"]).compute_signature(url, params)
    return Signed(url, {**headers, "X-Twilio-Signature": signature}, body)


def _sign_telnyx(url: str, headers: dict[str, str], body: bytes, creds: Mapping[str, str],
                 now: datetime) -> Signed:
    from nacl.signing import SigningKey

    stamp = str(int(now.timestamp()))
    signature = SigningKey(TELNYX_SEED).sign(stamp.encode() + b"|" + body).signature
    return Signed(url, {**headers, "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
                        "telnyx-timestamp": stamp}, body)


def vonage_sig(params: Mapping[str, str], secret: str, method: str = "md5hash") -> str:
    text = "".join(f"&{k}={v.replace('&', '_').replace('=', '_')}" for k, v in sorted(params.items()))
    if method == "md5hash":
        return hashlib.md5((text + secret).encode()).hexdigest()
    return hmac.new(secret.encode(), text.encode(), method).hexdigest()


def _sign_vonage(url: str, headers: dict[str, str], body: bytes, creds: Mapping[str, str],
                 now: datetime) -> Signed:
    secret, method = creds["signature_secret"], creds.get("signature_method", "md5hash")
    parts = urlsplit(url)
    is_json = "json" in headers.get("Content-Type", "")
    if is_json:
        params = {k: str(v) for k, v in json.loads(body).items()}
    else:
        params = dict(parse_qsl(body.decode() if body else parts.query, keep_blank_values=True))
    params.pop("sig", None)
    params["timestamp"] = str(int(now.timestamp()))
    params["sig"] = vonage_sig(params, secret, method)
    if body:
        return Signed(url, headers, json.dumps(params).encode() if is_json else urlencode(params).encode())
    return Signed(urlunsplit(parts._replace(query=urlencode(params))), headers, body)


def plivo_v3(url: str, body: bytes, nonce: str, token: str) -> str:
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True)))
    params = "".join(k + v for k, v in sorted(parse_qsl(body.decode(), keep_blank_values=True)))
    if params:
        message = base + "?" + query + ("." if query else "") + params
    else:
        message = base + (f"?{query}" if query else "")
    digest = hmac.new(token.encode(), f"{message}.{nonce}".encode(), "sha256").digest()
    return base64.b64encode(digest).decode()


def _sign_plivo(url: str, headers: dict[str, str], body: bytes, creds: Mapping[str, str],
                now: datetime) -> Signed:
    nonce = "05429567804466091622"
    return Signed(url, {**headers, "X-Plivo-Signature-V3": plivo_v3(url, body, nonce, creds["auth_token"]),
                        "X-Plivo-Signature-V3-Nonce": nonce}, body)


def _sign_bandwidth(url: str, headers: dict[str, str], body: bytes, creds: Mapping[str, str],
                    now: datetime) -> Signed:
    token = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
    return Signed(url, {**headers, "Authorization": f"Basic {token}"}, body)


def generic_signature(secret: str, body: bytes, now: datetime) -> str:
    stamp = str(int(now.timestamp()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, "sha256").hexdigest()
    return f"t={stamp},v1={digest}"


def _sign_generic(url: str, headers: dict[str, str], body: bytes, creds: Mapping[str, str],
                  now: datetime) -> Signed:
    return Signed(url, {**headers, "X-Parley-Signature": generic_signature(creds["secret"], body, now)},
                  body)


def _unsigned(url: str, headers: dict[str, str], body: bytes, creds: Mapping[str, str],
              now: datetime) -> Signed:
    return Signed(url, headers, body)


SIGNERS: dict[str, Callable[..., Signed]] = {
    "twilio": _sign_twilio, "telnyx": _sign_telnyx, "vonage": _sign_vonage, "plivo": _sign_plivo,
    "bandwidth": _sign_bandwidth, "generic": _sign_generic, "simulator": _unsigned,
}


def signed_request(carrier: str, kind: str, body: str | bytes, *, method: str = "POST",
                   content_type: str | None = None, creds: Mapping[str, str] | None = None,
                   now: datetime = NOW, base_url: str = BASE_URL, tenant: str = TENANT,
                   sign: bool = True) -> Signed:
    """The request a carrier would send: URL, headers and body, signed with `creds`."""
    raw = body.encode() if isinstance(body, str) else body
    url = f"{base_url}/webhooks/{carrier}/{tenant}/{kind}"
    if method == "GET":
        url, raw = f"{url}?{raw.decode()}", b""
    headers = {} if method == "GET" else {
        "Content-Type": content_type or CONTENT_TYPES.get(carrier, "application/json")}
    signer = SIGNERS[carrier] if sign else _unsigned
    return signer(url, headers, raw, CREDENTIALS[carrier] if creds is None else creds, now)


def raw_request(signed: Signed, method: str = "POST") -> RawRequest:
    return RawRequest(method, signed.url, {k.lower(): v for k, v in signed.headers.items()}, signed.body)


@dataclass(frozen=True)
class Case:
    """One row of an adapter's table. `payload` is a testdata file name or the body itself."""

    label: str
    payload: str
    kind: str = "inbound"
    status: int = 200
    expect: dict = field(default_factory=dict)  # fields of the first event
    events: int = 1
    error: str | None = None  # in the refusal reason
    code: str | None = None  # the refusal code
    method: str = "POST"
    content_type: str | None = None
    creds: dict[str, str] | None = None  # the tenant's credentials (default: CREDENTIALS)
    sign_with: dict[str, str] | None = None  # what the request is signed with (default: creds)
    sign: bool = True
    headers: dict[str, str] = field(default_factory=dict)  # added after signing (override)
    now: datetime = NOW  # ingress's clock
    signed_at: datetime | None = None  # the carrier's clock when it signed (default: now)


def _body(carrier: str, payload: str) -> str:
    if payload.endswith((".txt", ".json")):
        return read_payload(carrier, payload)
    return payload


def _creds(adapter: Adapter, case: Case) -> Mapping[str, str]:
    return case.creds if case.creds is not None else CREDENTIALS[adapter.name]


def build(adapter: Adapter, case: Case, *, sign: bool | None = None) -> RawRequest:
    signing = case.sign_with if case.sign_with is not None else _creds(adapter, case)
    signed = signed_request(adapter.name, case.kind, _body(adapter.name, case.payload),
                            method=case.method, content_type=case.content_type, creds=signing,
                            sign=case.sign if sign is None else sign, now=case.signed_at or case.now)
    req = raw_request(signed, case.method)
    extra = {k.lower(): v for k, v in case.headers.items()}
    return RawRequest(req.method, req.url, {**req.headers, **extra}, req.body)


def outcome(adapter: Adapter, case: Case, req: RawRequest,
            creds: Mapping[str, str] | None = None) -> Intake | Refused:
    creds = creds if creds is not None else _creds(adapter, case)
    try:
        return intake(adapter, case.kind, req, creds, tenant_id=TENANT, now=case.now)
    except Refused as exc:
        return exc


def _tampered(req: RawRequest) -> RawRequest:
    if req.body:
        return RawRequest(req.method, req.url, req.headers, req.body[:-1] + bytes([req.body[-1] ^ 1]))
    return RawRequest(req.method, req.url + "&tampered=1", req.headers, req.body)


def _assert_refused(result: Intake | Refused, what: str) -> None:
    assert isinstance(result, Refused), f"{what} was accepted: {result}"
    assert 400 <= result.status < 500, f"{what}: {result.status} {result.reason}"


def _assert_no_secret(result: Intake | Refused, creds: Mapping[str, str]) -> None:
    if isinstance(result, Refused):
        for name, value in creds.items():
            if name in ("account_sid", "api_key", "signature_method", "username") or len(value) < 4:
                continue  # identifiers, not secrets
            assert value not in result.reason, f"secret '{name}' in a refusal reason"


def run_case(adapter: Adapter, case: Case) -> Intake | Refused:
    req = build(adapter, case)
    result = outcome(adapter, case, req)
    _assert_no_secret(result, {**_creds(adapter, case), **(case.sign_with or {})})
    if case.status != 200:
        assert isinstance(result, Refused), f"expected {case.status}, got accepted: {result}"
        assert result.status == case.status, f"{result.status} {result.code}: {result.reason}"
        if case.error:
            assert case.error in result.reason, result.reason
        if case.code:
            assert result.code == case.code, result.code
        return result
    assert isinstance(result, Intake), f"refused {result.status} {result.code}: {result.reason}"
    assert len(result.accepted) == case.events, (result.accepted, result.ignored)
    if case.expect:
        event = result.accepted[0].event
        got = {name: getattr(event, name) for name in case.expect}
        assert got == case.expect, got
    again = outcome(adapter, case, build(adapter, case))
    assert isinstance(again, Intake)
    assert [a.event.event_id for a in again.accepted] == [a.event.event_id for a in result.accepted]
    if adapter.needs_credentials and case.sign:
        _assert_refused(outcome(adapter, case, build(adapter, case, sign=False)), "an unsigned copy")
        _assert_refused(outcome(adapter, case, req, creds={}), "a copy without credentials")
        scheme = "plivo-v2" if "x-plivo-signature-v2" in req.headers else adapter.name
        if scheme not in BODY_UNSIGNED and result.accepted:
            _assert_refused(outcome(adapter, case, _tampered(req)), "a tampered copy")
    return result
