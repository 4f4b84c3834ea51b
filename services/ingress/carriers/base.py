"""What every carrier adapter works with: raw requests in, plain values or a `Refused` out.

Adapters are pure (no I/O, no clock reads: `now` comes in as an argument). The generic route in
`webhooks.py` does the rest: tenant and credential lookup, then `intake.py` (verify → parse →
normalise), then dedup, publish and the answer.

An adapter module, top to bottom: a docstring with doc links and a raw sample; `NAME`;
`STATUS_MAP`; `verify(req, creds, now)`, which returns nothing or raises `Forbidden`;
`parse_inbound(req)` and `parse_status(req)`, which return one item or a list of items
(`ParsedInbound`, `ParsedStatus`, `Ignored`) or raise `BadRequest`; and `ack()`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import orjson

from libs.common.events.sms_status import DeliveryStatus

RefusalCode = Literal[
    "unknown_carrier", "unknown_tenant", "method", "too_large", "content_type", "malformed",
    "missing_field", "bad_value", "bad_phone", "no_credentials", "bad_credentials",
    "missing_signature", "bad_signature", "wrong_account", "stale_timestamp",
]

Credentials = Mapping[str, str]


@dataclass(frozen=True)
class RawRequest:
    """A webhook as received. `url` is the public URL the carrier called (what it signed)."""

    method: str
    url: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    query: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Refused(Exception):
    """The request is turned away: `status` to answer, `code` for metrics, `reason` for people."""

    def __init__(self, reason: str, status: int, code: RefusalCode,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.code = code
        self.headers = dict(headers or {})


_DEFAULT_CODES: dict[int, RefusalCode] = {400: "malformed", 415: "content_type", 422: "missing_field"}


class BadRequest(Refused):
    """The request is malformed: 400 (unreadable), 415 (content type) or 422 (fields)."""

    def __init__(self, reason: str, status: int = 400, code: RefusalCode | None = None) -> None:
        super().__init__(reason, status, code or _DEFAULT_CODES.get(status, "malformed"))


class Forbidden(Refused):
    """The request cannot be shown to come from the tenant's carrier account."""

    def __init__(self, reason: str, code: RefusalCode = "bad_signature") -> None:
        super().__init__(reason, 403, code)


@dataclass(frozen=True)
class Ignored:
    """A genuine callback Parley has no use for (an event type it skips); answered 2xx."""

    reason: str


@dataclass(frozen=True)
class Concat:
    """One part of a message the carrier did not reassemble (Vonage `concat-*`)."""

    ref: str
    total: int
    part: int


@dataclass(frozen=True)
class ParsedInbound:
    phone: str  # as the carrier sent it; normalised in intake.py
    to: str
    body: str
    carrier_message_id: str | None  # None: dedupe on a hash of sender, body and a short window
    media_urls: tuple[str, ...] = ()
    opt_out_hint: str | None = None
    segments: int | None = None
    carrier_received_at: datetime | None = None
    concat: Concat | None = None


@dataclass(frozen=True)
class ParsedStatus:
    phone: str  # the recipient of the message Parley sent
    carrier_message_id: str
    status: DeliveryStatus
    error_code: str | None = None
    recipient_opted_out: bool = False
    error_detail: str | None = None
    carrier_occurred_at: datetime | None = None


Item = ParsedInbound | ParsedStatus | Ignored
Parsed = Item | Sequence[Item]


@dataclass(frozen=True)
class Adapter:
    """One carrier: how to verify and parse its webhooks, and what to answer."""

    name: str
    verify: Callable[[RawRequest, Credentials, datetime], None]
    parse_inbound: Callable[[RawRequest], Parsed]
    parse_status: Callable[[RawRequest], Parsed]
    ack: Callable[[], tuple[bytes, str]]
    needs_credentials: bool = True
    methods: frozenset[str] = frozenset({"POST"})
    numbers_without_plus: bool = False  # the carrier sends international numbers without '+'


# Helpers the adapters share ------------------------------------------------------------------

def content_type(req: RawRequest) -> str:
    return (req.header("content-type") or "").split(";", 1)[0].strip().lower()


def parse_pairs(text: str, what: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict",
                         max_num_fields=500)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed {what}: {exc}") from exc


def form_pairs(req: RawRequest) -> list[tuple[str, str]]:
    """The body's form fields in order, duplicates kept; 415 unless form-encoded."""
    if content_type(req) != "application/x-www-form-urlencoded":
        raise BadRequest("content type must be application/x-www-form-urlencoded", 415)
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("form body is not UTF-8") from exc
    return parse_pairs(text, "form")


def query_pairs(req: RawRequest) -> list[tuple[str, str]]:
    return parse_pairs(urlsplit(req.url).query, "query string")


def first_values(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


def json_body(req: RawRequest) -> object:
    if "json" not in content_type(req):
        raise BadRequest("content type must be application/json", 415)
    try:
        return orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc


def require(data: Mapping[str, object], name: str, where: str = "") -> str:
    """A non-empty string field, else 422 naming it."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"missing or non-string field '{where}{name}'", 422)
    return value


def optional_str(data: Mapping[str, object], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRequest(f"field '{name}' must be a string", 422, "bad_value")
    return str(value)


def optional_int(value: object, name: str, low: int = 1, high: int = 10_000) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value))
    except ValueError as exc:
        raise BadRequest(f"field '{name}' must be a whole number", 422, "bad_value") from exc
    if not low <= number <= high:
        raise BadRequest(f"field '{name}' out of range {low}..{high}", 422, "bad_value")
    return number


def obj(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise BadRequest(f"'{where}' must be a JSON object", 422, "bad_value")
    return value


def hmac_digest(key: str, message: bytes, algorithm: str) -> bytes:
    return hmac.new(key.encode(), message, getattr(hashlib, algorithm)).digest()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(given.encode(), expected.encode())


def secret(creds: Credentials, name: str, carrier: str) -> str:
    value = creds.get(name)
    if not isinstance(value, str) or not value:
        raise Forbidden(f"the tenant's {carrier} credentials lack '{name}'", "no_credentials")
    return value


JSON_ACK = (b'{"status":"accepted"}', "application/json")


def carrier_time(value: object, fmt: str | None = None) -> datetime | None:
    """A carrier's timestamp as aware UTC, or None when absent or unreadable (it is informative
    only: Parley's own `received_at` is what orders things)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.strptime(value, fmt) if fmt else datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
