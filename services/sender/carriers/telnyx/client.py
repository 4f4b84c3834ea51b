"""Telnyx Messaging API v2: send a message.

API: https://developers.telnyx.com/api/messaging/send-message
Idempotency: https://developers.telnyx.com/docs/development/api-fundamentals/idempotency
Errors: https://developers.telnyx.com/docs/messaging/messages/error-codes (40300 = blocked by STOP)

    POST /v2/messages
    Authorization: Bearer KEY…
    Idempotency-Key: 9f0c…   (Parley's message id: a repeat returns the first answer, not a second SMS)
    Content-Type: application/json

    {"from": "+15555550000", "to": "+15555550100", "text": "Hello", "webhook_url": "https://…"}

    200 {"data": {"id": "40385f64-…", "to": [{"phone_number": "+15555550100", "status": "queued"}], …}}
    4xx {"errors": [{"code": "40300", "title": "Blocked due to STOP message", "detail": "…"}]}

Credentials: `api_key` (sending); optionally `messaging_profile_id`. (`public_key` is what ingress
verifies webhooks with.) The request body is built deterministically so a repeat is byte-identical,
as Telnyx requires for an idempotent replay. An interrupted send is repeated with the same key
(Telnyx replays a successful answer for 24 hours), so no lookup is needed (`build_lookup` → None);
it is repeated only once the first attempt can no longer be in flight, since Telnyx stores only
finished answers and two requests in flight with one key are not guaranteed to be one SMS.
"""

from __future__ import annotations

import httpx
import orjson

from services.sender.carriers.base import (
    Credentials,
    Failed,
    Lookup,
    Outcome,
    Outgoing,
    Sent,
    Sought,
    Unknown,
    json_body,
    need,
    transient,
)

NAME = "telnyx"
BASE_URL = "https://api.telnyx.com"
IDEMPOTENT = True
OPTED_OUT = frozenset({"40300"})  # "Blocked due to STOP message"
LOOKUP_LAG_S = 0.0


def build_request(msg: Outgoing, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    (key,) = need(creds, NAME, "api_key")
    body: dict[str, str] = {"from": msg.from_, "to": msg.to, "text": msg.text}
    if creds.get("messaging_profile_id"):
        body["messaging_profile_id"] = creds["messaging_profile_id"]
    if msg.status_url:
        body["webhook_url"] = msg.status_url
    return httpx.Request("POST", f"{base_url.rstrip('/')}/v2/messages", content=orjson.dumps(body),
                         headers={"Authorization": f"Bearer {key}", "Idempotency-Key": msg.message_id,
                                  "Content-Type": "application/json", "Accept": "application/json"})


def read_response(resp: httpx.Response) -> Outcome:
    if resp.status_code in (200, 201, 202):
        data = json_body(resp).get("data") or {}
        if not isinstance(data, dict) or not data.get("id"):
            return Failed("Telnyx accepted the message without an id")
        to = data.get("to") or [{}]
        status = to[0].get("status") if isinstance(to, list) and isinstance(to[0], dict) else None
        return Sent(str(data["id"]), "queued" if status in (None, "queued") else "sent")
    if (retry := transient(resp)) is not None:
        return retry
    errors = json_body(resp).get("errors") or [{}]
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
    code = str(first["code"]) if first.get("code") is not None else None
    words = first.get("detail") or first.get("title") or resp.reason_phrase
    return Failed(f"Telnyx {code or resp.status_code}: {words}", code, opted_out=code in OPTED_OUT)


def build_lookup(msg: Sought, creds: Credentials, base_url: str = BASE_URL) -> None:
    return None  # repeated with its Idempotency-Key instead


def read_lookup(resp: httpx.Response, msg: Sought) -> Lookup:
    return Unknown("Telnyx sends are repeated with their idempotency key, not looked up")
