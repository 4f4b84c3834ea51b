"""Vonage (Nexmo) SMS API: send an SMS.

API: https://developer.vonage.com/en/api/sms#send-an-sms
Status codes: https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms
Opt-outs: https://developer.vonage.com/en/opt-out-assist/guides/messaging-opted-out-numbers

    POST /sms/json
    Content-Type: application/x-www-form-urlencoded

    api_key=abcd1234&api_secret=…&from=15555550000&to=15555550100&text=Hello&client-ref=9f0c…
        &type=unicode (UCS-2 only)&callback=https%3A%2F%2F…&status-report-req=1

    200 {"message-count": "1", "messages": [{"to": "15555550100", "message-id": "0C00…", "status": "0"}]}
    200 {"message-count": "1", "messages": [{"status": "1", "error-text": "Throughput Rate Exceeded"}]}

Vonage answers 200 even for errors: the per-message `status` decides (0 accepted, 1 throttled,
5 internal error; the rest permanent). Numbers go without the leading +. A long message is split
by Vonage, one message-id per part; the first is kept as the carrier id. A recipient who opted out
is reported later, in the delivery receipt (err-code 9), which ingress flags as `recipient_opted_out`.

Credentials: `api_key`, `api_secret` (`signature_secret` is what ingress verifies webhooks with).
No idempotency key (`client-ref` is only echoed back), so a request that got no answer is never
repeated: it is looked up instead.

Lookup: the Reports API (the SMS Search API is deprecated), on its own host
(`PARLEY_VONAGE_REPORTS_BASE_URL`): https://developer.vonage.com/en/reports/overview

    GET /v2/reports/records?account_id=abcd1234&product=SMS&direction=outbound
        &date_start=2026-11-19T17:00:00Z&date_end=2026-11-19T17:06:00Z
    Authorization: Basic base64(api_key:api_secret)

    200 {"records": [{"message_id": "0C00…", "client_ref": "9f0c…", "status": "delivered", …}], …}

A record whose `client_ref` is the message id is certain proof it was sent. Its absence is not
proof of the contrary: records appear minutes after the send, and the Reports API is a product an
account may not have. So a message not found stays unknown, never sent again.
"""

from __future__ import annotations

import httpx

from services.sender.carriers.base import (
    UNREADABLE,
    Credentials,
    Failed,
    Found,
    Lookup,
    Outcome,
    Outgoing,
    Retry,
    Sent,
    Sought,
    Unknown,
    basic_auth,
    json_body,
    listed,
    lookup_refused,
    need,
    retry_after,
    transient,
    utc,
)

NAME = "vonage"
BASE_URL = "https://rest.nexmo.com"
IDEMPOTENT = False
OPTED_OUT: frozenset[str] = frozenset()  # only in receipts (err-code 9), never at submission
TRANSIENT = frozenset({"1", "5"})  # throttled, internal error
REPORTS_URL = "https://api.nexmo.com"
LOOKUP_LAG_S = 300.0  # Reports API records appear minutes after the send
STATUS_MAP = {"delivered": "delivered", "failed": "failed", "rejected": "failed", "expired": "undelivered"}


def _msisdn(number: str) -> str:
    return number.removeprefix("+")


def build_request(msg: Outgoing, creds: Credentials, base_url: str = BASE_URL) -> httpx.Request:
    key, secret = need(creds, NAME, "api_key", "api_secret")
    form = {"api_key": key, "api_secret": secret, "from": _msisdn(msg.from_), "to": _msisdn(msg.to),
            "text": msg.text, "client-ref": msg.message_id}
    if msg.unicode:
        form["type"] = "unicode"
    if msg.status_url:
        form["callback"] = msg.status_url
        form["status-report-req"] = "1"
    return httpx.Request("POST", f"{base_url.rstrip('/')}/sms/json", data=form,
                         headers={"Accept": "application/json"})


def read_response(resp: httpx.Response) -> Outcome:
    if (retry := transient(resp)) is not None:
        return retry
    messages = json_body(resp).get("messages")
    if resp.status_code >= 400:
        return Failed(f"Vonage HTTP {resp.status_code}: {resp.reason_phrase}", str(resp.status_code))
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return Failed(f"Vonage answered HTTP {resp.status_code} without messages")
    first = messages[0]
    status = str(first.get("status", ""))
    if status == "0" and first.get("message-id"):
        return Sent(str(first["message-id"]))
    words = first.get("error-text") or "unknown error"
    if status in TRANSIENT:
        return Retry(f"Vonage {status}: {words}", retry_after(resp))
    return Failed(f"Vonage {status}: {words}", status or None)


def _stamp(at) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_lookup(msg: Sought, creds: Credentials, base_url: str = REPORTS_URL) -> httpx.Request:
    key, secret = need(creds, NAME, "api_key", "api_secret")
    query = {"account_id": key, "product": "SMS", "direction": "outbound",
             "date_start": _stamp(msg.since), "date_end": _stamp(msg.until)}
    return httpx.Request("GET", f"{base_url.rstrip('/')}/v2/reports/records", params=query,
                         headers={"Authorization": basic_auth(key, secret), "Accept": "application/json"})


def read_lookup(resp: httpx.Response, msg: Sought) -> Lookup:
    if (refused := lookup_refused(resp, "Vonage")) is not None:
        return refused
    if (records := listed(json_body(resp), "records")) is None:
        return Unknown(UNREADABLE)
    ours = sorted((r for r in records if r.get("client_ref") == msg.message_id and r.get("message_id")),
                  key=lambda r: utc(r.get("date_received")) or msg.until)
    if ours:  # a long message has one record per part; the first part's id is the one kept
        first = ours[0]
        return Found(str(first["message_id"]), STATUS_MAP.get(str(first.get("status")), "queued"))
    return Unknown("Vonage has no record with this message's client-ref yet; its records arrive "
                   "minutes late, so that does not prove it was not sent")
