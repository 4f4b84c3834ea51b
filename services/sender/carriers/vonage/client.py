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
repeated.
"""

from __future__ import annotations

import httpx

from services.sender.carriers.base import (
    Credentials,
    Failed,
    Outcome,
    Outgoing,
    Retry,
    Sent,
    json_body,
    need,
    retry_after,
    transient,
)

NAME = "vonage"
BASE_URL = "https://rest.nexmo.com"
IDEMPOTENT = False
OPTED_OUT: frozenset[str] = frozenset()  # only in receipts (err-code 9), never at submission
TRANSIENT = frozenset({"1", "5"})  # throttled, internal error


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
