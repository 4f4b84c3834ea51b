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
that got no answer is never repeated: it is looked up instead.

Lookup: https://www.plivo.com/docs/messaging/api/message/list-all-messages

    GET /v1/Account/MA…/Message/?message_direction=outbound&message_type=sms
        &message_time__gte=2026-11-19 17:00:00&message_time__lte=2026-11-19 17:00:45&limit=20

    200 {"meta": {"limit": 20, "next": null, "offset": 0, "total_count": 1},
         "objects": [{"message_uuid": "db3ce55a-…", "from_number": "15555550000",
                      "to_number": "15555550100", "message_time": "2026-11-19 17:00:01.2+00:00",
                      "message_state": "delivered", "units": 1, …}]}

Plivo keeps no message text in its records and cannot filter the list by number, so the message is
the one of this number pair with the same unit (segment) count accepted within the attempt window;
two such, or a window holding more than one page (20) of the account's messages, leave it unknown.
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

NAME = "plivo"
BASE_URL = "https://api.plivo.com"
IDEMPOTENT = False
OPTED_OUT: frozenset[str] = frozenset()  # only in receipts (error 200), never at submission
LOOKUP_LAG_S = 30.0  # message detail records are written shortly after acceptance
PAGE_LIMIT = 20  # the largest page Plivo serves
STATUS_MAP = {"sent": "sent", "delivered": "delivered", "undelivered": "undelivered", "failed": "failed",
              "rejected": "failed"}


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


def _plivo_time(at) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")  # UTC, as Plivo reads it


def build_lookup(msg: Sought, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    auth_id, token = need(creds, NAME, "auth_id", "auth_token")
    query = {"message_direction": "outbound", "message_type": "sms", "limit": str(PAGE_LIMIT),
             "message_time__gte": _plivo_time(msg.since), "message_time__lte": _plivo_time(msg.until)}
    return httpx.Request("GET", f"{base_url.rstrip('/')}/v1/Account/{auth_id}/Message/", params=query,
                         headers={"Authorization": basic_auth(auth_id, token), "Accept": "application/json"})


def read_lookup(resp: httpx.Response, msg: Sought) -> Lookup:
    if (refused := lookup_refused(resp, "Plivo")) is not None:
        return refused
    data = json_body(resp)
    if (items := listed(data, "objects")) is None or not isinstance(meta := data.get("meta"), dict):
        return Unknown(UNREADABLE)
    pair = (msg.from_.removeprefix("+"), msg.to.removeprefix("+"))
    matches = [(str(m["message_uuid"]), STATUS_MAP.get(str(m.get("message_state")), "queued"))
               for m in items if m.get("message_uuid")
               and (str(m.get("from_number", "")).removeprefix("+"),
                    str(m.get("to_number", "")).removeprefix("+")) == pair
               and str(m.get("units")) == str(msg.segments) and in_window(utc(m.get("message_time")), msg)]
    return pick(matches, msg, not meta.get("next"), "Plivo", "number pair, segment count and time")
