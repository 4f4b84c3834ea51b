"""Telnyx Messaging API v2 webhooks.

Receiving: https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks
Signature: https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks#webhook-signing
(reference implementation: team-telnyx/telnyx-python `lib/webhook_verification.py`)

    POST /webhooks/telnyx/acme/inbound
    Content-Type: application/json
    telnyx-signature-ed25519: <base64 Ed25519 signature, 64 bytes>
    telnyx-timestamp: 1705349767

    {"data": {"event_type": "message.received", "id": "b301ed3f-…",
              "occurred_at": "2024-01-15T20:16:07.588+00:00",
              "payload": {"id": "84cca175-…", "from": {"phone_number": "+13125550001"},
                          "to": [{"phone_number": "+17735550002"}], "text": "Hello", "media": [],
                          "parts": 1}},
     "meta": {"attempt": 1}}

The signature covers `"{telnyx-timestamp}|{raw body}"` with the account's Ed25519 key; timestamps
more than 300 s from now are refused (replays). Telnyx wants a 2xx within 2 s, retries, and may
deliver an event twice or out of order: the dedup key is the message id (`payload.id`), which a
redelivered event (same `data.id`) carries too; receipts carry `occurred_at` so consumers can order.

Credentials: `public_key` (base64, Mission Control → Keys & Credentials → Public Key).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.ingress.carriers.base import (
    JSON_ACK,
    Adapter,
    BadRequest,
    Credentials,
    Forbidden,
    Ignored,
    ParsedInbound,
    ParsedStatus,
    RawRequest,
    RefusalCode,
    carrier_time,
    json_body,
    obj,
    optional_int,
    require,
    secret,
)

NAME = "telnyx"

STATUS_MAP = {
    "queued": "queued", "sending": "queued", "sent": "sent", "delivered": "delivered",
    "sending_failed": "failed", "delivery_failed": "undelivered", "delivery_unconfirmed": "sent",
}
STATUS_EVENTS = ("message.sent", "message.finalized")
TOLERANCE_S = 300
OPTED_OUT = "40300"  # Telnyx: "Blocked due to STOP message" (https://developers.telnyx.com/api/errors/40300)


def _decode(value: str, size: int, what: str, code: RefusalCode) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise Forbidden(f"{what} is not {size} base64-encoded bytes", code)
    return raw


def verify(req: RawRequest, creds: Credentials, now: datetime) -> None:
    key = _decode(secret(creds, "public_key", NAME), 32, "the tenant's telnyx public_key",
                  "bad_credentials")
    given, stamp = req.header("telnyx-signature-ed25519"), req.header("telnyx-timestamp")
    if not given or not stamp:
        raise Forbidden("missing telnyx-signature-ed25519 or telnyx-timestamp", "missing_signature")
    if not stamp.isdigit():
        raise Forbidden("telnyx-timestamp is not a unix time")
    if abs(now.timestamp() - int(stamp)) > TOLERANCE_S:
        raise Forbidden(f"telnyx-timestamp is more than {TOLERANCE_S} s from now", "stale_timestamp")
    signature = _decode(given, 64, "telnyx-signature-ed25519", "bad_signature")
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, stamp.encode() + b"|" + req.body)
    except InvalidSignature as exc:
        raise Forbidden("telnyx-signature-ed25519 does not match the body") from exc


def _event(req: RawRequest) -> tuple[str, dict, dict]:
    data = obj(obj(json_body(req), "body").get("data"), "data")
    payload = obj(data.get("payload"), "data.payload")
    return require(data, "event_type", "data."), data, payload


def _first_recipient(payload: dict) -> dict:
    to = payload.get("to")
    if not isinstance(to, list) or not to:
        raise BadRequest("missing field 'data.payload.to'", 422)
    return obj(to[0], "data.payload.to[0]")


def _message_id(payload: dict, data: dict) -> str:
    message_id = payload.get("id")
    return message_id if isinstance(message_id, str) and message_id else require(data, "id", "data.")


def parse_inbound(req: RawRequest) -> ParsedInbound | Ignored:
    event_type, data, payload = _event(req)
    if event_type != "message.received":
        return Ignored(f"event type {event_type!r} on the inbound URL")
    text = payload.get("text") or ""
    if not isinstance(text, str):
        raise BadRequest("'data.payload.text' must be a string", 422, "bad_value")
    media = payload.get("media") if isinstance(payload.get("media"), list) else []
    return ParsedInbound(
        phone=require(obj(payload.get("from"), "data.payload.from"), "phone_number", "data.payload.from."),
        to=require(_first_recipient(payload), "phone_number", "data.payload.to[0]."),
        body=text,
        carrier_message_id=_message_id(payload, data),
        media_urls=tuple(m["url"] for m in media if isinstance(m, dict) and isinstance(m.get("url"), str)),
        segments=optional_int(payload.get("parts"), "data.payload.parts"),
        carrier_received_at=carrier_time(payload.get("received_at") or data.get("occurred_at")),
    )


def _error(payload: dict) -> tuple[str | None, str | None]:
    errors = payload.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code, title = errors[0].get("code"), errors[0].get("title")
        return (str(code) if code is not None else None), (str(title) if title else None)
    return None, None


def parse_status(req: RawRequest) -> ParsedStatus | Ignored:
    event_type, data, payload = _event(req)
    if event_type not in STATUS_EVENTS:
        return Ignored(f"event type {event_type!r} is not a delivery receipt")
    recipient = _first_recipient(payload)
    raw_status = require(recipient, "status", "data.payload.to[0].")
    status = STATUS_MAP.get(raw_status)
    if status is None:
        return Ignored(f"status {raw_status!r} is not a delivery receipt")
    code, title = _error(payload)
    return ParsedStatus(
        phone=require(recipient, "phone_number", "data.payload.to[0]."),
        carrier_message_id=require(payload, "id", "data.payload."), status=status,
        error_code=code, recipient_opted_out=code == OPTED_OUT, error_detail=title,
        carrier_occurred_at=carrier_time(data.get("occurred_at")),
    )


def ack() -> tuple[bytes, str]:
    return JSON_ACK


adapter = Adapter(NAME, verify, parse_inbound, parse_status, ack)
