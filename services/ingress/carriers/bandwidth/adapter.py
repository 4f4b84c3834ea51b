"""Bandwidth Messaging API v2 callbacks.

Webhooks: https://dev.bandwidth.com/docs/messaging/webhooks
Callback credentials: https://dev.bandwidth.com/docs/account/applications
Error codes: https://dev.bandwidth.com/docs/messaging/errors

    POST /webhooks/bandwidth/acme/inbound
    Content-Type: application/json
    Authorization: Basic <base64(username:password)>

    [{"type": "message-received", "time": "2016-09-14T18:20:16Z", "to": "+12345678902",
      "message": {"id": "14762070468292kw2fuqty55yp2b2", "from": "+12065551234", "to": ["+12345678902"],
                  "owner": "+12345678902", "text": "hello world", "media": ["https://…/bw.png"],
                  "segmentCount": 1, "direction": "in"}}]

The body is always an array of callbacks, inbound and receipts alike, so one request may yield
several events; both endpoints accept either kind (Bandwidth lets one URL take both). Bandwidth
signs nothing: the callback carries HTTP Basic credentials set on the messaging application, and a
request without them is challenged (401 with `WWW-Authenticate`), one with wrong ones refused (403).
Bandwidth retries for 24 h until a 2xx and may deliver twice: the dedup key is `message.id`.

Credentials: `username`, `password` (the application's callback credentials).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from services.ingress.carriers.base import (
    JSON_ACK,
    Adapter,
    BadRequest,
    Credentials,
    Forbidden,
    Ignored,
    Item,
    ParsedInbound,
    ParsedStatus,
    RawRequest,
    Refused,
    carrier_time,
    json_body,
    obj,
    optional_int,
    require,
    same,
    secret,
)

NAME = "bandwidth"

STATUS_MAP = {"message-sending": "sent", "message-delivered": "delivered", "message-failed": "failed"}
MAX_CALLBACKS = 100


def verify(req: RawRequest, creds: Credentials, now: datetime) -> None:
    username, password = secret(creds, "username", NAME), secret(creds, "password", NAME)
    header = req.header("authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Refused("missing HTTP Basic credentials", 401, "missing_signature",
                      {"WWW-Authenticate": 'Basic realm="parley-webhooks"'})
    try:
        given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise Forbidden("malformed HTTP Basic credentials") from exc
    user, _, word = given.partition(":")
    # Both compared whatever the first gives, so timing says nothing about which was wrong.
    if not (same(user, username) & same(word, password)):
        raise Forbidden("wrong HTTP Basic credentials")


def _inbound(callback: dict, message: dict) -> ParsedInbound:
    media = message.get("media") if isinstance(message.get("media"), list) else []
    text = message.get("text") or ""
    if not isinstance(text, str):
        raise BadRequest("'message.text' must be a string", 422, "bad_value")
    owner = message.get("owner") if isinstance(message.get("owner"), str) else None
    return ParsedInbound(
        phone=require(message, "from", "message."), to=owner or require(callback, "to"), body=text,
        carrier_message_id=require(message, "id", "message."),
        media_urls=tuple(m for m in media if isinstance(m, str)),
        segments=optional_int(message.get("segmentCount"), "message.segmentCount"),
        carrier_received_at=carrier_time(message.get("time") or callback.get("time")),
    )


def _status(callback: dict, message: dict, kind: str) -> ParsedStatus:
    code = None if callback.get("errorCode") in (None, "") else str(callback["errorCode"])
    detail = callback.get("description")
    return ParsedStatus(
        phone=require(callback, "to"), carrier_message_id=require(message, "id", "message."),
        status=STATUS_MAP[kind], error_code=code,
        error_detail=str(detail)[:500] if code and detail else None,
        carrier_occurred_at=carrier_time(callback.get("time")),
    )


def parse_callbacks(req: RawRequest) -> list[Item]:
    callbacks = json_body(req)
    if not isinstance(callbacks, list) or not callbacks:
        raise BadRequest("body must be a non-empty JSON array of callbacks", 422, "bad_value")
    if len(callbacks) > MAX_CALLBACKS:
        raise BadRequest(f"more than {MAX_CALLBACKS} callbacks in one request", 422, "bad_value")
    items: list[Item] = []
    for callback in callbacks:
        callback = obj(callback, "callback")
        kind = require(callback, "type")
        message = obj(callback.get("message"), "message")
        if kind == "message-received":
            items.append(_inbound(callback, message))
        elif kind in STATUS_MAP:
            items.append(_status(callback, message, kind))
        else:
            items.append(Ignored(f"callback type {kind!r}"))
    return items


def ack() -> tuple[bytes, str]:
    return JSON_ACK


adapter = Adapter(NAME, verify, parse_callbacks, parse_callbacks, ack, numbers_without_plus=True)
