"""Plivo Messaging: send a message.

API: https://www.plivo.com/docs/messaging/api/message/send-a-message
Objects and errors: https://www.plivo.com/docs/messaging/api/messages/

    POST /v1/Account/MA…/Message/
    Authorization: Basic base64(AuthID:AuthToken)
    Content-Type: application/json

    {"src": "+15555550000", "dst": "+15555550100", "text": "Hello", "type": "sms",
     "url": "https://…/status", "method": "POST"}

    202 {"api_id": "…", "message": "message(s) queued", "message_uuid": ["db3ce55a-…"]}
    400 {"api_id": "…", "error": "dst parameter not present"}

A recipient who opted out is reported in the delivery receipt (error code 200), which ingress flags
as `recipient_opted_out`. Credentials: `auth_id`, `auth_token`. No idempotency key, so a request
that got no answer is never repeated.
"""

from __future__ import annotations

import httpx
import orjson

from services.sender.carriers.base import (
    Credentials,
    Failed,
    Outcome,
    Outgoing,
    Sent,
    basic_auth,
    json_body,
    need,
    transient,
)

NAME = "plivo"
BASE_URL = "https://api.plivo.com"
IDEMPOTENT = False
OPTED_OUT: frozenset[str] = frozenset()  # only in receipts (error 200), never at submission


def build_request(msg: Outgoing, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    auth_id, token = need(creds, NAME, "auth_id", "auth_token")
    body = {"src": msg.from_, "dst": msg.to, "text": msg.text, "type": "sms"}
    if msg.status_url:
        body |= {"url": msg.status_url, "method": "POST"}
    return httpx.Request("POST", f"{base_url.rstrip('/')}/v1/Account/{auth_id}/Message/",
                         content=orjson.dumps(body),
                         headers={"Authorization": basic_auth(auth_id, token),
                                  "Content-Type": "application/json", "Accept": "application/json"})


def read_response(resp: httpx.Response) -> Outcome:
    if resp.status_code in (200, 201, 202):
        uuids = json_body(resp).get("message_uuid")
        if not isinstance(uuids, list) or not uuids:
            return Failed("Plivo accepted the message without a message_uuid")
        return Sent(str(uuids[0]))
    if (retry := transient(resp)) is not None:
        return retry
    words = json_body(resp).get("error") or resp.reason_phrase
    return Failed(f"Plivo {resp.status_code}: {words}", str(resp.status_code))
