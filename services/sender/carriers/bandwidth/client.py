"""Bandwidth Messaging API v2: create a message.

API: https://dev.bandwidth.com/docs/messaging/createMessage/
Errors: https://dev.bandwidth.com/v2-messaging/codes.html ("any 4xx or 5xx … will not be billed
nor will the message be sent")

    POST /api/v2/users/{accountId}/messages
    Authorization: Basic base64(username:password)
    Content-Type: application/json

    {"applicationId": "93de2206-…", "to": ["+15555550100"], "from": "+15555550000",
     "text": "Hello", "tag": "9f0c…"}

    202 {"id": "1589228074636lm4k2je7j7jklbn2", "owner": "+15555550000", "segmentCount": 1, …}
    400 {"type": "request-validation", "description": "Your request could not be accepted"}

Receipts go to the messaging application's callback URL (set at Bandwidth, not per message) and
carry `tag`, which holds Parley's message id. Credentials: `account_id`, `application_id`, and the
API user's `api_username` / `api_password` — when those are not set, `username` / `password` (the
callback credentials ingress checks) are used. No idempotency key, so a request that got no answer
is never repeated.
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

NAME = "bandwidth"
BASE_URL = "https://messaging.bandwidth.com"
IDEMPOTENT = False
OPTED_OUT: frozenset[str] = frozenset()


def _user(creds: Credentials) -> tuple[str, str]:
    if creds.get("api_username") and creds.get("api_password"):
        return creds["api_username"], creds["api_password"]
    username, password = need(creds, NAME, "username", "password")
    return username, password


def build_request(msg: Outgoing, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    account, application = need(creds, NAME, "account_id", "application_id")
    body = {"applicationId": application, "to": [msg.to], "from": msg.from_, "text": msg.text,
            "tag": msg.message_id}
    return httpx.Request("POST", f"{base_url.rstrip('/')}/api/v2/users/{account}/messages",
                         content=orjson.dumps(body),
                         headers={"Authorization": basic_auth(*_user(creds)),
                                  "Content-Type": "application/json", "Accept": "application/json"})


def read_response(resp: httpx.Response) -> Outcome:
    if resp.status_code in (200, 201, 202):
        message_id = json_body(resp).get("id")
        if not message_id:
            return Failed("Bandwidth accepted the message without an id")
        return Sent(str(message_id))
    if (retry := transient(resp)) is not None:
        return retry
    data = json_body(resp)
    kind = data.get("type")
    words = data.get("description") or resp.reason_phrase
    return Failed(f"Bandwidth {kind or resp.status_code}: {words}", kind)
