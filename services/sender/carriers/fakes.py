"""Fake carrier APIs for tests and benchmarks: one ASGI app per carrier API shape, served on
127.0.0.1 with `libs.common.testing.http.local_server`, hit with real httpx calls.

Each fake checks what the real API checks first (path, authentication, required fields), answers
in the carrier's own success and error shapes, and records every call. Tests steer it:
`script` queues forced answers (a 429 with Retry-After, a 503, a 400, a hang), `opted_out` holds
numbers the carrier refuses the way it does after a STOP, and Telnyx's fake replays the first
answer for a repeated Idempotency-Key, as Telnyx does.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

CREDENTIALS: dict[str, dict[str, str]] = {
    "twilio": {"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "twilio-token"},
    "telnyx": {"api_key": "KEYtelnyx0123", "public_key": "unused-by-the-sender"},
    "vonage": {"api_key": "abcd1234", "api_secret": "vonage-secret", "signature_secret": "unused"},
    "plivo": {"auth_id": "MAXXXXXXXXXXXXXXXXXX", "auth_token": "plivo-token"},
    "bandwidth": {"account_id": "9900000", "application_id": "93de2206-9669-4e07-948d-329f4b722ee2",
                  "username": "bw-user", "password": "bw-pass"},
}


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    fields: dict[str, Any]


@dataclass
class Forced:
    """A scripted answer: status, headers, and the carrier-shaped error body (or `hang` seconds)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    hang: float = 0.0


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class FakeCarrier:
    def __init__(self, carrier: str, creds: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.carrier = carrier
        self.creds = creds or CREDENTIALS[carrier]
        self.calls: list[Call] = []
        self.script: deque[Forced] = deque()
        self.opted_out: set[str] = set()
        self.delay = delay
        self.sent: dict[str, dict[str, Any]] = {}  # carrier id → what it accepted
        self._ids = itertools.count(1)
        self._replays: dict[str, tuple[int, dict]] = {}

    # --- ASGI ------------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, extra, payload = await self.handle(scope["method"], scope["path"], headers, body)
        raw = json.dumps(payload).encode()
        out = [(b"content-type", b"application/json"), *((k.encode(), v.encode()) for k, v in extra.items())]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": raw})

    async def handle(self, method: str, path: str, headers: dict[str, str],
                     body: bytes) -> tuple[int, dict[str, str], Any]:
        fields = self._fields(headers, body)
        self.calls.append(Call(method, path, headers, body, fields))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            forced = self.script.popleft()
            if forced.hang:
                await asyncio.sleep(forced.hang)
            return forced.status, forced.headers, self.error(forced.status, forced.code)
        return getattr(self, f"_{self.carrier}")(method, path, headers, fields)

    @staticmethod
    def _fields(headers: dict[str, str], body: bytes) -> dict[str, Any]:
        kind = headers.get("content-type", "")
        if "json" in kind:
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
        return dict(parse_qsl(body.decode()))

    # --- carrier-shaped errors -------------------------------------------------------------------

    def error(self, status: int, code: str | None = None, words: str = "refused") -> Any:
        c = self.carrier
        if c == "twilio":
            return {"code": int(code) if code else 20000 + status, "message": words, "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code or status}"}
        if c == "telnyx":
            return {"errors": [{"code": code or str(10000 + status), "title": words, "detail": words}]}
        if c == "vonage":
            default = "1" if status == 429 else "5" if status >= 500 else "3"
            return {"message-count": "1", "messages": [{"status": code or default, "error-text": words}]}
        if c == "plivo":
            return {"api_id": "fake", "error": words}
        return {"type": code or "request-validation", "description": words}

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    # --- the five APIs ---------------------------------------------------------------------------

    def _twilio(self, method, path, headers, f):
        sid, token = self.creds["account_sid"], self.creds["auth_token"]
        if (method, path) != ("POST", f"/2010-04-01/Accounts/{sid}/Messages.json"):
            return 404, {}, self.error(404, "20404", "not found")
        if headers.get("authorization") != _basic(sid, token):
            return 401, {}, self.error(401, "20003", "Authenticate")
        if not f.get("To") or not f.get("Body") or not (f.get("From") or f.get("MessagingServiceSid")):
            return 400, {}, self.error(400, "21604", "A 'To', 'From' and 'Body' are required")
        if f["To"] in self.opted_out:
            return 400, {}, self.error(400, "21610", "Attempt to send to unsubscribed recipient")
        mid = self._next_id("SM")
        self.sent[mid] = {"to": f["To"], "from": f.get("From"), "text": f["Body"]}
        return 201, {}, {"sid": mid, "status": "queued", "to": f["To"], "from": f.get("From"),
                         "body": f["Body"], "num_segments": "1"}

    def _telnyx(self, method, path, headers, f):
        if (method, path) != ("POST", "/v2/messages"):
            return 404, {}, self.error(404, "10005", "Resource not found")
        if headers.get("authorization") != f"Bearer {self.creds['api_key']}":
            return 401, {}, self.error(401, "10009", "Authentication failed")
        key = headers.get("idempotency-key")
        if key and key in self._replays:
            return self._replays[key][0], {}, self._replays[key][1]
        if not f.get("to") or not f.get("text") or not f.get("from"):
            return 422, {}, self.error(422, "10002", "Invalid parameter")
        if f["to"] in self.opted_out:
            return 400, {}, self.error(400, "40300", "Blocked due to STOP message")
        mid = self._next_id("40385f64-")
        self.sent[mid] = {"to": f["to"], "from": f["from"], "text": f["text"]}
        answer = {"data": {"id": mid, "record_type": "message", "text": f["text"],
                           "from": {"phone_number": f["from"]},
                           "to": [{"phone_number": f["to"], "status": "queued"}], "parts": 1}}
        if key:
            self._replays[key] = (200, answer)
        return 200, {}, answer

    def _vonage(self, method, path, headers, f):
        if (method, path) != ("POST", "/sms/json"):
            return 404, {}, {}
        if (f.get("api_key"), f.get("api_secret")) != (self.creds["api_key"], self.creds["api_secret"]):
            return 200, {}, self.error(200, "4", "Bad Credentials")
        if not f.get("to") or not f.get("from") or not f.get("text"):
            return 200, {}, self.error(200, "2", "Missing to param")
        if "+" + f["to"] in self.opted_out:
            return 200, {}, self.error(200, "7", "Number barred.")
        mid = self._next_id("0C00000")
        self.sent[mid] = {"to": f["to"], "from": f["from"], "text": f["text"]}
        return 200, {}, {"message-count": "1", "messages": [
            {"to": f["to"], "message-id": mid, "status": "0", "client-ref": f.get("client-ref", "")}]}

    def _plivo(self, method, path, headers, f):
        auth_id, token = self.creds["auth_id"], self.creds["auth_token"]
        if (method, path) != ("POST", f"/v1/Account/{auth_id}/Message/"):
            return 404, {}, self.error(404, None, "not found")
        if headers.get("authorization") != _basic(auth_id, token):
            return 401, {}, self.error(401, None, "authentication failed")
        if not f.get("src") or not f.get("dst") or not f.get("text"):
            return 400, {}, self.error(400, None, "dst parameter not present")
        mid = self._next_id("db3ce55a-")
        self.sent[mid] = {"to": f["dst"], "from": f["src"], "text": f["text"]}
        return 202, {}, {"api_id": "fake", "message": "message(s) queued", "message_uuid": [mid]}

    def _bandwidth(self, method, path, headers, f):
        if (method, path) != ("POST", f"/api/v2/users/{self.creds['account_id']}/messages"):
            return 404, {}, self.error(404, "not-found", "not found")
        if headers.get("authorization") != _basic(self.creds["username"], self.creds["password"]):
            return 401, {}, self.error(401, "unauthorized", "Authentication Failed")
        to = f.get("to")
        if not isinstance(to, list) or not to or not f.get("from") or f.get("applicationId") != self.creds[
                "application_id"]:
            return 400, {}, self.error(400, "request-validation", "Your request could not be accepted")
        mid = self._next_id("15892280")
        self.sent[mid] = {"to": to[0], "from": f["from"], "text": f.get("text"), "tag": f.get("tag")}
        return 202, {}, {"id": mid, "owner": f["from"], "applicationId": f["applicationId"], "to": to,
                         "from": f["from"], "text": f.get("text"), "tag": f.get("tag"), "segmentCount": 1}
