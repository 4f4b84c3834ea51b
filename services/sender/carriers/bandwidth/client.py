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
is never repeated: it is looked up instead.

Lookup: https://dev.bandwidth.com/docs/messaging/getMessage (the same path, GET, with filters)

    GET /api/v2/users/{accountId}/messages?sourceTn=%2B15555550000&destinationTn=%2B15555550100
        &messageDirection=OUTBOUND&fromDateTime=2026-11-19T17:00:00.000Z&toDateTime=…&limit=100

    200 {"totalCount": 1, "pageInfo": {}, "messages": [{"messageId": "1589228074636lm4k2je7j7jklbn2",
         "sourceTn": "+15555550000", "destinationTn": "+15555550100", "messageStatus": "DELIVERED",
         "segmentCount": 1, "receiveTime": "2026-11-19T17:00:01.000Z", …}]}

Bandwidth keeps no message text ("does not store text message content") and does not return the
`tag`, so the message is the one of this number pair with the same segment count received within the
attempt window and not already held by another Parley message: a message to the same subscriber
from the same number sent by something else in those seconds would be taken for it (it then counts
as sent, never as sent twice); two such make the answer unknown.
"""

from __future__ import annotations

import httpx
import orjson

from services.sender.carriers.base import (
    UNREADABLE,
    Credentials,
    Failed,
    Lookup,
    Outcome,
    Outgoing,
    Sent,
    Sought,
    Unknown,
    basic_auth,
    in_window,
    json_body,
    listed,
    lookup_refused,
    need,
    pick,
    transient,
    utc,
)

NAME = "bandwidth"
BASE_URL = "https://messaging.bandwidth.com"
IDEMPOTENT = False
OPTED_OUT: frozenset[str] = frozenset()
LOOKUP_LAG_S = 30.0  # the message search is fed from Bandwidth's records, not the send itself
PAGE_LIMIT = 100
STATUS_MAP = {"SENT": "sent", "DELIVERED": "delivered", "UNDELIVERED": "undelivered", "FAILED": "failed"}


def _user(creds: Credentials) -> tuple[str, str]:
    if creds.get("api_username") and creds.get("api_password"):
        return creds["api_username"], creds["api_password"]
    username, password = need(creds, NAME, "username", "password")
    return username, password


def _iso(at) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


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


def build_lookup(msg: Sought, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    (account,) = need(creds, NAME, "account_id")
    query = {"sourceTn": msg.from_, "destinationTn": msg.to, "messageDirection": "OUTBOUND",
             "fromDateTime": _iso(msg.since), "toDateTime": _iso(msg.until), "limit": str(PAGE_LIMIT)}
    return httpx.Request("GET", f"{base_url.rstrip('/')}/api/v2/users/{account}/messages", params=query,
                         headers={"Authorization": basic_auth(*_user(creds)), "Accept": "application/json"})


def read_lookup(resp: httpx.Response, msg: Sought) -> Lookup:
    if (refused := lookup_refused(resp, "Bandwidth")) is not None:
        return refused
    data = json_body(resp)
    if (items := listed(data, "messages")) is None:
        return Unknown(UNREADABLE)
    matches = [(str(m["messageId"]), STATUS_MAP.get(str(m.get("messageStatus")), "queued"))
               for m in items if m.get("messageId") and m.get("sourceTn") == msg.from_
               and m.get("destinationTn") == msg.to and str(m.get("segmentCount")) == str(msg.segments)
               and in_window(utc(m.get("receiveTime")), msg)]
    page = data.get("pageInfo") if isinstance(data.get("pageInfo"), dict) else {}
    total = data.get("totalCount")
    complete = (not page.get("nextPageToken") and not page.get("nextPage")
                and (not isinstance(total, int) or total <= len(items)))
    return pick(matches, msg, complete, "Bandwidth", "number pair, segment count and time")
