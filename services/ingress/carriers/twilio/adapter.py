"""Twilio Programmable Messaging webhooks.

Fields: https://www.twilio.com/docs/messaging/guides/webhook-request
Status callbacks: https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
Signature: https://www.twilio.com/docs/usage/webhooks/webhooks-security

    POST /webhooks/twilio/acme/inbound
    Content-Type: application/x-www-form-urlencoded
    X-Twilio-Signature: sAYRME4u7MHti2sU4rFUW4qFzl4=

    MessageSid=SMe287…&AccountSid=AC…&From=%2B14133881111&To=%2B12028831111&Body=Msg&NumMedia=0&NumSegments=1

`X-Twilio-Signature` is base64(HMAC-SHA1(auth token, the public URL Twilio called + every POST
parameter name and value, sorted by name)). Twilio computes it inconsistently with and without a
default port, so both are tried (as its own RequestValidator does). A request that names a SharedKey
in `X-Twilio-Webhooks-Signature-Settings` is checked with that key's secret and algorithm instead.

Credentials: `auth_token` (required); `account_sid` (optional: when set, `AccountSid` must match);
`shared_key_secret` (optional, for SharedKey-signed webhooks).

The answer is an empty TwiML `<Response/>` so that Twilio itself sends nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from services.ingress.carriers.base import (
    Adapter,
    Credentials,
    Forbidden,
    Ignored,
    ParsedInbound,
    ParsedStatus,
    RawRequest,
    b64,
    first_values,
    form_pairs,
    hmac_digest,
    optional_int,
    require,
    same,
    secret,
)

NAME = "twilio"

STATUS_MAP = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
    "sent": "sent", "delivered": "delivered", "read": "delivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
}
OPTED_OUT = "21610"  # Twilio: "the customer has replied with STOP" (https://www.twilio.com/docs/api/errors/21610)
ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/=]{4})+$")


def _with_and_without_port(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        return [url, urlunsplit(parts._replace(netloc=host))]
    port = 443 if parts.scheme == "https" else 80
    return [url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))]


def signature(url: str, pairs: Sequence[tuple[str, str]], key: str, algorithm: str = "sha1") -> str:
    values: dict[str, set[str]] = defaultdict(set)
    for name, value in pairs:
        values[name].add(value)
    message = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return b64(hmac_digest(key, message.encode(), algorithm))


def _signing_key(req: RawRequest, creds: Credentials) -> tuple[str, str]:
    settings = req.header("x-twilio-webhooks-signature-settings")
    if not settings:
        return secret(creds, "auth_token", NAME), "sha1"
    named = dict(part.strip().partition("=")[::2] for part in settings.split(","))
    algorithm = ALGORITHMS.get(named.get("algorithm", "HMAC_SHA1").upper())
    if algorithm is None:
        raise Forbidden(f"unsupported signature algorithm {named.get('algorithm')!r}")
    return secret(creds, "shared_key_secret", NAME), algorithm


def verify(req: RawRequest, creds: Credentials, now: datetime) -> None:
    given = req.header("x-twilio-signature")
    if not given:
        raise Forbidden("missing X-Twilio-Signature", "missing_signature")
    key, algorithm = _signing_key(req, creds)
    pairs = form_pairs(req)
    if not any(same(given, signature(url, pairs, key, algorithm))
               for url in _with_and_without_port(req.url)):
        raise Forbidden("X-Twilio-Signature does not match this URL and body")
    expected_account = creds.get("account_sid")
    if expected_account and first_values(pairs).get("AccountSid") != expected_account:
        raise Forbidden("AccountSid is not the tenant's Twilio account", "wrong_account")


def decode_possible_base64(text: str) -> str:
    """Twilio sometimes forwards a concatenated SMS as base64. Decode only what is clearly that:
    60+ characters of strict base64 that decode to printable UTF-8, at least half of it ASCII (a
    multi-byte character cut off at the very end is dropped, as Twilio truncates)."""
    stripped = text.replace("\r", "").replace("\n", "").strip()
    if len(stripped) < 60 or len(stripped) % 4 or not _BASE64.match(stripped):
        return text
    try:
        raw = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        return text
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data" or len(raw) - exc.start > 3:
            return text
        decoded = raw[:exc.start].decode("utf-8")
    printable = all(ch.isprintable() or ch in "\n\r\t" for ch in decoded)
    if not decoded or not printable or sum(ch <= "\x7f" for ch in decoded) * 2 < len(decoded):
        return text
    return decoded


def _media(form: dict[str, str]) -> tuple[str, ...]:
    count = optional_int(form.get("NumMedia"), "NumMedia", low=0, high=100) or 0
    return tuple(form[f"MediaUrl{n}"] for n in range(count) if form.get(f"MediaUrl{n}"))


def parse_inbound(req: RawRequest) -> ParsedInbound:
    form = first_values(form_pairs(req))
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or require(form, "MessageSid")
    return ParsedInbound(
        phone=require(form, "From"), to=require(form, "To"),
        body=decode_possible_base64(form.get("Body", "")), carrier_message_id=sid,
        media_urls=_media(form), opt_out_hint=form.get("OptOutType") or None,
        segments=optional_int(form.get("NumSegments"), "NumSegments"),
    )


def parse_status(req: RawRequest) -> ParsedStatus | Ignored:
    form = first_values(form_pairs(req))
    raw_status = (form.get("MessageStatus") or form.get("SmsStatus")
                  or require(form, "MessageStatus")).lower()
    status = STATUS_MAP.get(raw_status)
    if status is None:
        return Ignored(f"status {raw_status!r} is not a delivery receipt")
    error = form.get("ErrorCode") or None
    return ParsedStatus(phone=require(form, "To"), carrier_message_id=require(form, "MessageSid"),
                        status=status, error_code=error, recipient_opted_out=error == OPTED_OUT)


def ack() -> tuple[bytes, str]:
    return b'<?xml version="1.0" encoding="UTF-8"?><Response/>', "text/xml"


adapter = Adapter(NAME, verify, parse_inbound, parse_status, ack)
