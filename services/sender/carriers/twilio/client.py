"""Twilio Programmable Messaging: create a Message.

API: https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
Errors: https://www.twilio.com/docs/api/errors (21610 = the recipient replied STOP)

    POST /2010-04-01/Accounts/AC…/Messages.json
    Authorization: Basic base64(AccountSid:AuthToken)
    Content-Type: application/x-www-form-urlencoded

    To=%2B15555550100&From=%2B15555550000&Body=Hello&StatusCallback=https%3A%2F%2F…

    201 {"sid": "SM…", "status": "queued", "num_segments": "1", …}
    400 {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400, …}
    429 {"code": 20429, "message": "Too Many Requests", "status": 429}

Credentials: `account_sid`, `auth_token`; optionally `api_key_sid` + `api_key_secret` (used for
Basic auth instead of the auth token) and `messaging_service_sid` (send through a Messaging
Service instead of From). Twilio takes no idempotency key for messages, so a request that got no
answer is never repeated: it is looked up instead.

Lookup: https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-resources

    GET /2010-04-01/Accounts/AC…/Messages.json?To=%2B15555550100&From=%2B15555550000&PageSize=100

    200 {"messages": [{"sid": "SM…", "body": "Hello", "direction": "outbound-api", "status": "sent",
                       "date_created": "Thu, 19 Nov 2026 17:00:01 +0000", …}], "next_page_uri": null, …}

The list is filtered by the number pair and read newest first; the message is the one with the
same body created within the attempt window. `DateSent` is not used as a filter: it is a date, not
a time, and a message still queued at Twilio has no date_sent yet, so it could hide the very message
looked for. A body Twilio no longer shows (message redaction) in the window makes the answer unknown.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx

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
)

NAME = "twilio"
BASE_URL = "https://api.twilio.com"
IDEMPOTENT = False
OPTED_OUT = frozenset({"21610"})  # "Attempt to send to unsubscribed recipient"
LOOKUP_LAG_S = 5.0  # the list shows a message once it is created, which is part of the POST
PAGE_SIZE = 100
# Twilio's message statuses as delivery statuses; any other (accepted, scheduled, sending…) is queued.
STATUS_MAP = {"sent": "sent", "delivered": "delivered", "undelivered": "undelivered", "failed": "failed"}


def _account_auth(creds: Credentials) -> tuple[str, str]:
    (account,) = need(creds, NAME, "account_sid")
    if creds.get("api_key_sid") and creds.get("api_key_secret"):
        return account, basic_auth(creds["api_key_sid"], creds["api_key_secret"])
    return account, basic_auth(account, need(creds, NAME, "auth_token")[0])


def build_request(msg: Outgoing, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    account, auth = _account_auth(creds)
    form = {"To": msg.to, "Body": msg.text}
    if creds.get("messaging_service_sid"):
        form["MessagingServiceSid"] = creds["messaging_service_sid"]
    else:
        form["From"] = msg.from_
    if msg.status_url:
        form["StatusCallback"] = msg.status_url
    return httpx.Request("POST", f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json",
                         data=form, headers={"Authorization": auth, "Accept": "application/json"})


def read_response(resp: httpx.Response) -> Outcome:
    if resp.status_code in (200, 201):
        data = json_body(resp)
        if not data.get("sid"):
            return Failed("Twilio accepted the message without a sid")
        return Sent(str(data["sid"]), str(data.get("status") or "queued"))
    if (retry := transient(resp)) is not None:
        return retry
    data = json_body(resp)
    code = str(data["code"]) if data.get("code") is not None else None
    message = data.get("message") or resp.reason_phrase
    return Failed(f"Twilio {code or resp.status_code}: {message}", code, opted_out=code in OPTED_OUT)


def build_lookup(msg: Sought, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    account, auth = _account_auth(creds)
    query = {"To": msg.to, "PageSize": str(PAGE_SIZE)}
    if not creds.get("messaging_service_sid"):  # a Messaging Service picks the sender itself
        query["From"] = msg.from_
    return httpx.Request("GET", f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json",
                         params=query, headers={"Authorization": auth, "Accept": "application/json"})


def _created(item: dict):
    try:
        return parsedate_to_datetime(str(item.get("date_created") or ""))
    except (TypeError, ValueError):
        return None


def read_lookup(resp: httpx.Response, msg: Sought) -> Lookup:
    if (refused := lookup_refused(resp, "Twilio")) is not None:
        return refused
    data = json_body(resp)
    if (listing := listed(data, "messages")) is None:
        return Unknown(UNREADABLE)
    items = [m for m in listing if str(m.get("direction", "")).startswith("outbound")]
    window = [m for m in items if in_window(_created(m), msg)]
    if any(not m.get("body") for m in window if m.get("sid") not in msg.known):
        return Unknown("Twilio shows a message in the attempt window without its body (redacted); "
                       "whether it is this one cannot be told")
    matches = [(str(m["sid"]), STATUS_MAP.get(str(m.get("status")), "queued")) for m in window
               if m.get("sid") and m.get("body") == msg.text]
    oldest = min((c for m in items if (c := _created(m)) is not None), default=None)
    complete = not data.get("next_page_uri") or (oldest is not None and oldest < msg.since)
    return pick(matches, msg, complete, "Twilio", "number pair, body and time")
