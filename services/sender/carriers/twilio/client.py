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
answer is never repeated.
"""

from __future__ import annotations

import httpx

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

NAME = "twilio"
BASE_URL = "https://api.twilio.com"
IDEMPOTENT = False
OPTED_OUT = frozenset({"21610"})  # "Attempt to send to unsubscribed recipient"


def build_request(msg: Outgoing, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    (account,) = need(creds, NAME, "account_sid")
    if creds.get("api_key_sid") and creds.get("api_key_secret"):
        auth = basic_auth(creds["api_key_sid"], creds["api_key_secret"])
    else:
        auth = basic_auth(account, need(creds, NAME, "auth_token")[0])
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
