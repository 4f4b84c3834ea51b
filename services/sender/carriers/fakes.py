"""Fake carrier APIs for tests and benchmarks: one ASGI app per carrier API shape, served on
127.0.0.1 with `libs.common.testing.http.local_server`, hit with real httpx calls.

Each fake checks what the real API checks first (path, authentication, required fields), answers
in the carrier's own success and error shapes, and records every call. Tests steer it:
`script` queues forced answers (a 429 with Retry-After, a 503, a 400, a hang, or an accepted message
whose answer is lost), `opted_out` holds numbers the carrier refuses the way it does after a STOP,
and Telnyx's fake replays the first answer for a repeated Idempotency-Key, as Telnyx does.

Each fake keeps what it accepted (`sent`, with the time and segment count) and serves the carrier's
message list over it, in the carrier's shape and with its limits: Twilio's by number pair, with
bodies; Plivo's by time only, 20 a page, without text; Bandwidth's by number pair and time, without
text; Vonage's Reports API records by time, with client-ref.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from services.sender.carriers.base import utc
from services.sender.segments import count_segments

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
    """A scripted answer: status, headers, and the carrier-shaped error body (or `hang` seconds).
    `accept`: the carrier takes the message as usual, then answers only after `hang` (a lost answer)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    hang: float = 0.0
    accept: bool = False


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class FakeCarrier:
    def __init__(self, carrier: str, creds: dict[str, str] | None = None, delay: float = 0.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.carrier = carrier
        self.clock = clock
        self.creds = creds or CREDENTIALS[carrier]
        self.calls: list[Call] = []
        self.script: deque[Forced] = deque()
        self.opted_out: set[str] = set()
        self.delay = delay
        self.sent: dict[str, dict[str, Any]] = {}  # carrier id → what it accepted, and when
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
        if scope["method"] == "GET":
            body = scope.get("query_string", b"")
            headers["content-type"] = "application/x-www-form-urlencoded"
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
            answer = self._api(method, path, headers, fields) if forced.accept else None
            if forced.hang:
                await asyncio.sleep(forced.hang)
            return answer or (forced.status, forced.headers, self.error(forced.status, forced.code))
        return self._api(method, path, headers, fields)

    def _api(self, method: str, path: str, headers: dict[str, str], fields: dict[str, Any]):
        return getattr(self, f"_{self.carrier}")(method, path, headers, fields)

    @property
    def sends(self) -> list[Call]:
        """The send requests (POST), leaving out lookups."""
        return [c for c in self.calls if c.method == "POST"]

    def _keep(self, mid: str, to: str, from_: str | None, text: str, **extra: Any) -> None:
        self.sent[mid] = {"to": to, "from": from_, "text": text, "at": self.clock(),
                          "segments": count_segments(text), **extra}

    def _newest_first(self, to: str | None = None, from_: str | None = None):
        rows = [(mid, m) for mid, m in self.sent.items()
                if (to is None or m["to"] == to) and (from_ is None or m["from"] == from_)]
        return sorted(rows, key=lambda r: r[1]["at"], reverse=True)

    def _between(self, f: dict, low: str, high: str):
        since, until = utc(f.get(low, "").replace(" ", "T")), utc(f.get(high, "").replace(" ", "T"))
        return [(mid, m) for mid, m in self._newest_first()
                if (since is None or m["at"] >= since) and (until is None or m["at"] <= until)]

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
        if path != f"/2010-04-01/Accounts/{sid}/Messages.json" or method not in ("GET", "POST"):
            return 404, {}, self.error(404, "20404", "not found")
        if headers.get("authorization") != _basic(sid, token):
            return 401, {}, self.error(401, "20003", "Authenticate")
        if method == "GET":  # Read multiple Message resources: newest first, one page
            rows = self._newest_first(f.get("To"), f.get("From"))
            size = int(f.get("PageSize", 50))
            page = [{"sid": mid, "to": m["to"], "from": m["from"], "body": m["text"], "status": "sent",
                     "direction": "outbound-api", "num_segments": str(m["segments"]),
                     "date_created": format_datetime(m["at"], usegmt=True)} for mid, m in rows[:size]]
            more = f"{path}?PageToken=PA1&Page=1" if len(rows) > size else None
            return 200, {}, {"messages": page, "next_page_uri": more, "page_size": size}
        if not f.get("To") or not f.get("Body") or not (f.get("From") or f.get("MessagingServiceSid")):
            return 400, {}, self.error(400, "21604", "A 'To', 'From' and 'Body' are required")
        if f["To"] in self.opted_out:
            return 400, {}, self.error(400, "21610", "Attempt to send to unsubscribed recipient")
        mid = self._next_id("SM")
        self._keep(mid, f["To"], f.get("From"), f["Body"])
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
        self._keep(mid, f["to"], f["from"], f["text"])
        answer = {"data": {"id": mid, "record_type": "message", "text": f["text"],
                           "from": {"phone_number": f["from"]},
                           "to": [{"phone_number": f["to"], "status": "queued"}], "parts": 1}}
        if key:
            self._replays[key] = (200, answer)
        return 200, {}, answer

    def _vonage(self, method, path, headers, f):
        if (method, path) == ("GET", "/v2/reports/records"):  # Reports API, synchronous records
            if headers.get("authorization") != _basic(self.creds["api_key"], self.creds["api_secret"]):
                return 401, {}, {"title": "Unauthorized"}
            rows = self._between(f, "date_start", "date_end")
            return 200, {}, {"request_status": "SUCCESS", "items_count": len(rows), "records": [
                {"message_id": mid, "client_ref": m["client_ref"], "to": m["to"], "from": m["from"],
                 "status": "delivered", "date_received": m["at"].isoformat()} for mid, m in rows]}
        if (method, path) != ("POST", "/sms/json"):
            return 404, {}, {}
        if (f.get("api_key"), f.get("api_secret")) != (self.creds["api_key"], self.creds["api_secret"]):
            return 200, {}, self.error(200, "4", "Bad Credentials")
        if not f.get("to") or not f.get("from") or not f.get("text"):
            return 200, {}, self.error(200, "2", "Missing to param")
        if "+" + f["to"] in self.opted_out:
            return 200, {}, self.error(200, "7", "Number barred.")
        mid = self._next_id("0C00000")
        self._keep(mid, f["to"], f["from"], f["text"], client_ref=f.get("client-ref", ""))
        return 200, {}, {"message-count": "1", "messages": [
            {"to": f["to"], "message-id": mid, "status": "0", "client-ref": f.get("client-ref", "")}]}

    def _plivo(self, method, path, headers, f):
        auth_id, token = self.creds["auth_id"], self.creds["auth_token"]
        if path != f"/v1/Account/{auth_id}/Message/" or method not in ("GET", "POST"):
            return 404, {}, self.error(404, None, "not found")
        if headers.get("authorization") != _basic(auth_id, token):
            return 401, {}, self.error(401, None, "authentication failed")
        if method == "GET":  # List all messages: by time, newest first, at most 20, no text
            rows = self._between(f, "message_time__gte", "message_time__lte")
            limit = min(20, int(f.get("limit", 20)))
            more = f"{path}?limit={limit}&offset={limit}" if len(rows) > limit else None
            return 200, {}, {"api_id": "fake", "meta": {"limit": limit, "next": more, "offset": 0,
                                                        "total_count": len(rows)}, "objects": [
                {"message_uuid": mid, "from_number": m["from"].removeprefix("+"),
                 "to_number": m["to"].removeprefix("+"), "message_direction": "outbound",
                 "message_state": "delivered", "message_type": "sms", "units": m["segments"],
                 "message_time": m["at"].isoformat(sep=" ")} for mid, m in rows[:limit]]}
        if not f.get("src") or not f.get("dst") or not f.get("text"):
            return 400, {}, self.error(400, None, "dst parameter not present")
        mid = self._next_id("db3ce55a-")
        self._keep(mid, f["dst"], f["src"], f["text"])
        return 202, {}, {"api_id": "fake", "message": "message(s) queued", "message_uuid": [mid]}

    def _bandwidth(self, method, path, headers, f):
        if path != f"/api/v2/users/{self.creds['account_id']}/messages" or method not in ("GET", "POST"):
            return 404, {}, self.error(404, "not-found", "not found")
        if headers.get("authorization") != _basic(self.creds["username"], self.creds["password"]):
            return 401, {}, self.error(401, "unauthorized", "Authentication Failed")
        if method == "GET":  # List Messages: number pair and time; Bandwidth keeps no text
            rows = [(mid, m) for mid, m in self._between(f, "fromDateTime", "toDateTime")
                    if m["to"] == f.get("destinationTn") and m["from"] == f.get("sourceTn")]
            return 200, {}, {"totalCount": len(rows), "pageInfo": {}, "messages": [
                {"messageId": mid, "sourceTn": m["from"], "destinationTn": m["to"],
                 "messageStatus": "DELIVERED", "messageDirection": "OUTBOUND", "messageType": "sms",
                 "segmentCount": m["segments"], "receiveTime": m["at"].isoformat().replace("+00:00", "Z")}
                for mid, m in rows[:int(f.get("limit", 100))]]}
        to = f.get("to")
        if not isinstance(to, list) or not to or not f.get("from") or f.get("applicationId") != self.creds[
                "application_id"]:
            return 400, {}, self.error(400, "request-validation", "Your request could not be accepted")
        mid = self._next_id("15892280")
        self._keep(mid, to[0], f["from"], f.get("text") or "", tag=f.get("tag"))
        return 202, {}, {"id": mid, "owner": f["from"], "applicationId": f["applicationId"], "to": to,
                         "from": f["from"], "text": f.get("text"), "tag": f.get("tag"), "segmentCount": 1}
