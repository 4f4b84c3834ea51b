"""The generic carrier: a documented JSON shape for aggregators Parley has no adapter for yet.

    POST /webhooks/generic/acme/inbound
    Content-Type: application/json
    X-Parley-Signature: t=1763650000,v1=5f2b…(hex)

    {"id": "agg-123", "from": "+15555550100", "to": "+15555550000", "body": "Yes please",
     "media_urls": ["https://…/1.jpg"], "received_at": "2026-11-20T15:04:05Z", "segments": 1,
     "opt_out_hint": "STOP"}

    POST /webhooks/generic/acme/status
    {"id": "agg-456", "to": "+15555550100", "status": "delivered", "error_code": null,
     "recipient_opted_out": false, "occurred_at": "2026-11-20T15:04:07Z"}

A body may also be a JSON array of such objects. Inbound: `from`, `to` and `body` are required;
without `id`, retries are recognised by a hash of sender, recipient and body within a short window
(so send an `id` if two identical texts a minute apart must both count). Status: `id`, `to` and
`status` (one of queued, sent, delivered, undelivered, failed) are required.

Signature, Stripe-style: `X-Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>." + raw body)>`; several `v1=` may be given (key rotation); `t` must be within 300 s of now.

Credentials: `secret`.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from libs.common.events.sms_status import DeliveryStatus
from services.ingress.carriers.base import (
    JSON_ACK,
    Adapter,
    BadRequest,
    Credentials,
    Forbidden,
    Item,
    ParsedInbound,
    ParsedStatus,
    RawRequest,
    carrier_time,
    hmac_digest,
    json_body,
    obj,
    optional_int,
    optional_str,
    require,
    secret,
)

NAME = "generic"

STATUS_MAP: dict[str, DeliveryStatus] = {s: s for s in ("queued", "sent", "delivered", "undelivered",
                                                        "failed")}
TOLERANCE_S = 300
MAX_ITEMS = 100


def signature(key: str, stamp: str, body: bytes) -> str:
    return hmac_digest(key, stamp.encode() + b"." + body, "sha256").hex()


def verify(req: RawRequest, creds: Credentials, now: datetime) -> None:
    key = secret(creds, "secret", NAME)
    header = req.header("x-parley-signature")
    if not header:
        raise Forbidden("missing X-Parley-Signature", "missing_signature")
    parts = [p.strip().partition("=") for p in header.split(",")]
    stamps = [value for name, _, value in parts if name == "t"]
    given = [value.lower() for name, _, value in parts if name == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not given:
        raise Forbidden("X-Parley-Signature must be 't=<unix seconds>,v1=<hex>'")
    if abs(now.timestamp() - int(stamps[0])) > TOLERANCE_S:
        raise Forbidden(f"X-Parley-Signature t is more than {TOLERANCE_S} s from now", "stale_timestamp")
    expected = signature(key, stamps[0], req.body)
    if not any(hmac.compare_digest(g.encode(), expected.encode()) for g in given):
        raise Forbidden("X-Parley-Signature does not match the body")


def _objects(req: RawRequest) -> list[dict]:
    data = json_body(req)
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_ITEMS:
        raise BadRequest(f"send 1 to {MAX_ITEMS} objects", 422, "bad_value")
    return [obj(item, "item") for item in items]


def _media(data: dict) -> tuple[str, ...]:
    media = data.get("media_urls") or []
    if not isinstance(media, list) or not all(isinstance(m, str) for m in media):
        raise BadRequest("'media_urls' must be a list of strings", 422, "bad_value")
    return tuple(media)


def _inbound(data: dict) -> ParsedInbound:
    body = data.get("body")
    if not isinstance(body, str):
        raise BadRequest("missing or non-string field 'body'", 422)
    return ParsedInbound(
        phone=require(data, "from"), to=require(data, "to"), body=body,
        carrier_message_id=optional_str(data, "id"), media_urls=_media(data),
        opt_out_hint=optional_str(data, "opt_out_hint"),
        segments=optional_int(data.get("segments"), "segments"),
        carrier_received_at=carrier_time(data.get("received_at")),
    )


def _status(data: dict) -> ParsedStatus:
    status = STATUS_MAP.get(require(data, "status"))
    if status is None:
        raise BadRequest(f"'status' must be one of {sorted(STATUS_MAP)}", 422, "bad_value")
    return ParsedStatus(
        phone=require(data, "to"), carrier_message_id=require(data, "id"), status=status,
        error_code=optional_str(data, "error_code"),
        recipient_opted_out=data.get("recipient_opted_out") is True,
        error_detail=optional_str(data, "error_detail"),
        carrier_occurred_at=carrier_time(data.get("occurred_at")),
    )


def parse_inbound(req: RawRequest) -> list[Item]:
    return [_inbound(data) for data in _objects(req)]


def parse_status(req: RawRequest) -> list[Item]:
    return [_status(data) for data in _objects(req)]


def ack() -> tuple[bytes, str]:
    return JSON_ACK


adapter = Adapter(NAME, verify, parse_inbound, parse_status, ack)
