"""Vonage (Nexmo) SMS API webhooks: inbound messages and delivery receipts.

Inbound: https://developer.vonage.com/messaging/sms/guides/inbound-sms
Receipts: https://developer.vonage.com/messaging/sms/guides/delivery-receipts
Signing: https://developer.vonage.com/getting-started/concepts/signing-messages
Opt-outs: https://developer.vonage.com/en/opt-out-assist/guides/messaging-opted-out-numbers

    POST /webhooks/vonage/acme/inbound            (or GET with a query string, or a JSON POST)
    Content-Type: application/x-www-form-urlencoded

    api-key=abcd1234&msisdn=447700900001&to=447700900000&messageId=0A0000000123ABCD1&text=Hello+world
    &type=text&keyword=HELLO&message-timestamp=2020-01-01+12%3A00%3A00&timestamp=1577880000
    &nonce=aaaaaaaa-…&sig=663c593f2e32965787e332ceb5c7f367

Numbers are international without '+'. A long message may arrive as parts (`concat=true`,
`concat-ref`, `concat-total`, `concat-part`), each with its own `messageId`; ingress stores the
parts and publishes the whole message once (see `services/ingress/concat.py`).

Signature (`sig`): drop `sig`, replace '&' and '=' in every value with '_', sort by name, join as
`&name=value…`; then `md5hash` = hex(MD5(string + secret)), or hex(HMAC-<alg>(secret, string)) for
the HMAC methods (MD5, SHA1, SHA256, SHA512), compared case-insensitively. Signed webhooks are off
by default on Vonage accounts: ask Vonage to enable them, since Parley accepts nothing unsigned.
A replay of a signed message carries the same `messageId`, so it is answered as a duplicate.

Credentials: `signature_secret` (required); `signature_method` (`md5hash` (default), `md5`,
`sha1`, `sha256`, `sha512`); `api_key` (optional: when set, `api-key` must match).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from services.ingress.carriers.base import (
    JSON_ACK,
    Adapter,
    BadRequest,
    Concat,
    Credentials,
    Forbidden,
    Ignored,
    ParsedInbound,
    ParsedStatus,
    RawRequest,
    carrier_time,
    content_type,
    first_values,
    form_pairs,
    hmac_digest,
    json_body,
    obj,
    optional_int,
    query_pairs,
    require,
    same,
    secret,
)

NAME = "vonage"

STATUS_MAP = {"delivered": "delivered", "accepted": "sent", "buffered": "queued",
              "expired": "undelivered", "failed": "failed", "rejected": "failed"}
OPTED_OUT = "9"  # Vonage DLR err-code 9 on failed/rejected: the recipient opted out (Opt-Out Assist)
METHODS = {"md5hash": "md5hash", "md5": "md5", "md5hmac": "md5", "sha1": "sha1", "sha1hmac": "sha1",
           "sha256": "sha256", "sha256hmac": "sha256", "sha512": "sha512", "sha512hmac": "sha512"}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise BadRequest("Vonage fields must be strings or numbers", 422, "bad_value")


def params(req: RawRequest) -> dict[str, str]:
    """Every field of the webhook, wherever Vonage put it (query, form or JSON)."""
    if req.method == "GET":
        return first_values(query_pairs(req))
    if "json" in content_type(req):
        return {name: _scalar(value) for name, value in obj(json_body(req), "body").items()}
    return first_values(form_pairs(req))


def signature(fields: dict[str, str], key: str, method: str) -> str:
    signed = "".join(f"&{name}={value.replace('&', '_').replace('=', '_')}"
                     for name, value in sorted(fields.items()) if name != "sig")
    if method == "md5hash":
        return hashlib.md5((signed + key).encode()).hexdigest()
    return hmac_digest(key, signed.encode(), method).hex()


def verify(req: RawRequest, creds: Credentials, now: datetime) -> None:
    key = secret(creds, "signature_secret", NAME)
    name = "".join(ch for ch in creds.get("signature_method", "md5hash").lower() if ch.isalnum())
    method = METHODS.get(name)
    if method is None:
        raise Forbidden(f"unknown vonage signature_method {creds.get('signature_method')!r}",
                        "bad_credentials")
    fields = params(req)
    given = fields.get("sig")
    if not given:
        raise Forbidden("missing sig (enable signed webhooks on the Vonage account)", "missing_signature")
    if not same(given.lower(), signature(fields, key, method)):
        raise Forbidden("sig does not match the fields")
    if creds.get("api_key") and fields.get("api-key") != creds["api_key"]:
        raise Forbidden("api-key is not the tenant's Vonage account", "wrong_account")


def _concat(fields: dict[str, str]) -> Concat | None:
    if fields.get("concat", "").lower() != "true":
        return None
    total = optional_int(fields.get("concat-total"), "concat-total", low=1, high=255)
    part = optional_int(fields.get("concat-part"), "concat-part", low=1, high=255)
    if total is None or part is None or part > total:
        raise BadRequest("concat needs concat-total and a concat-part within it", 422, "bad_value")
    return Concat(ref=require(fields, "concat-ref"), total=total, part=part) if total > 1 else None


def parse_inbound(req: RawRequest) -> ParsedInbound | Ignored:
    fields = params(req)
    if fields.get("type", "text") not in ("text", "unicode"):
        return Ignored(f"message type {fields.get('type')!r} carries no text")
    return ParsedInbound(
        phone=require(fields, "msisdn"), to=require(fields, "to"), body=fields.get("text", ""),
        carrier_message_id=require(fields, "messageId"), concat=_concat(fields),
        carrier_received_at=carrier_time(fields.get("message-timestamp"), TIME_FORMAT),
    )


def parse_status(req: RawRequest) -> ParsedStatus | Ignored:
    fields = params(req)
    raw_status = require(fields, "status").lower()
    status = STATUS_MAP.get(raw_status)
    if status is None:
        return Ignored(f"status {raw_status!r} is not a delivery receipt")
    error = fields.get("err-code")
    error = None if error in (None, "", "0") else error
    return ParsedStatus(
        phone=require(fields, "msisdn"), carrier_message_id=require(fields, "messageId"),
        status=status, error_code=error,
        recipient_opted_out=error == OPTED_OUT and status == "failed",
        carrier_occurred_at=carrier_time(fields.get("message-timestamp"), TIME_FORMAT),
    )


def ack() -> tuple[bytes, str]:
    return JSON_ACK


adapter = Adapter(NAME, verify, parse_inbound, parse_status, ack,
                  methods=frozenset({"GET", "POST"}), numbers_without_plus=True)
