"""From a verified webhook to the events to publish: verify → parse → normalise. Pure.

`intake` is everything ingress decides about a request without I/O: the route looks up the tenant
and credentials first and does dedup and publishing after. Nothing leaves here unless the
adapter's `verify` passed, so nothing unverified can become an event.

Every event gets an id derived from (tenant, carrier, dedup key): if a publish that timed out still
reaches the broker and the carrier's retry is published too, both copies carry one event id, which
consumers already deduplicate on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from libs.common.events.sms_inbound import InboundSms
from libs.common.events.sms_status import StatusUpdate
from services.ingress import normalise
from services.ingress.carriers.base import (
    Adapter,
    BadRequest,
    Concat,
    Credentials,
    Ignored,
    Item,
    ParsedInbound,
    ParsedStatus,
    RawRequest,
)

CONTENT_WINDOW_S = 120  # id-less carriers: the same sender, recipient and body within this is a retry
MAX_ID = 128
MAX_BODY_CHARS = 65536


@dataclass(frozen=True)
class Accept:
    """One event to publish once: `dedup_key` is remembered durably with it."""

    event: InboundSms | StatusUpdate
    dedup_key: str
    previous_key: str | None = None  # content-hash keys: the previous window's key also counts
    concat: Concat | None = None


@dataclass(frozen=True)
class Intake:
    accepted: list[Accept]
    ignored: list[str]


def stable_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def content_keys(phone: str, to: str, body: str, now: datetime) -> tuple[str, str]:
    digest = hashlib.sha256(f"{phone}\x1f{to}\x1f{body}".encode()).hexdigest()[:40]
    window = int(now.timestamp()) // CONTENT_WINDOW_S
    return f"content:{digest}:{window}", f"content:{digest}:{window - 1}"


def _items(parsed: Item | Sequence[Item]) -> list[Item]:
    return list(parsed) if isinstance(parsed, list | tuple) else [parsed]  # type: ignore[list-item]


def _checked_id(value: str, field: str) -> str:
    if len(value) > MAX_ID:
        raise BadRequest(f"'{field}' is longer than {MAX_ID} characters", 422, "bad_value")
    return value


def _inbound(adapter: Adapter, tenant_id: str, p: ParsedInbound, now: datetime) -> Accept:
    plus_optional = adapter.numbers_without_plus
    phone = normalise.subscriber(p.phone, plus_optional=plus_optional, field="from")
    to, to_is_short_code = normalise.own_number(p.to, plus_optional=plus_optional, field="to")
    body = p.body[:MAX_BODY_CHARS]
    previous = None
    if p.carrier_message_id:
        key = _checked_id(p.carrier_message_id, "message id")
    else:
        key, previous = content_keys(phone, to, body, now)
    event = InboundSms(
        event_id=stable_id(tenant_id, adapter.name, key), occurred_at=now, tenant_id=tenant_id,
        phone=phone, to=to, body=body, normalised_body=normalise.body(body), carrier=adapter.name,
        carrier_message_id=key, media_urls=list(p.media_urls), received_at=now,
        carrier_received_at=p.carrier_received_at, carrier_opt_out_hint=p.opt_out_hint,
        segments=p.segments, to_is_short_code=to_is_short_code,
    )
    return Accept(event, key, previous, p.concat)


def _status(adapter: Adapter, tenant_id: str, p: ParsedStatus, now: datetime) -> Accept:
    phone = normalise.subscriber(p.phone, plus_optional=adapter.numbers_without_plus, field="to")
    message_id = _checked_id(p.carrier_message_id, "message id")
    key = f"status:{message_id}:{p.status}:{p.error_code or ''}"
    event = StatusUpdate(
        event_id=stable_id(tenant_id, adapter.name, key), occurred_at=now, tenant_id=tenant_id,
        phone=phone, carrier=adapter.name, carrier_message_id=message_id, status=p.status,
        error_code=p.error_code, recipient_opted_out=p.recipient_opted_out,
        error_detail=p.error_detail, carrier_occurred_at=p.carrier_occurred_at,
    )
    return Accept(event, key if len(key) <= 200 else "status:" + stable_id(key))


def intake(adapter: Adapter, kind: str, req: RawRequest, creds: Credentials, *, tenant_id: str,
           now: datetime) -> Intake:
    """Verify, parse and normalise one webhook; raises `Refused` with the answer to give."""
    adapter.verify(req, creds, now)
    parse = adapter.parse_inbound if kind == "inbound" else adapter.parse_status
    accepted: list[Accept] = []
    ignored: list[str] = []
    for item in _items(parse(req)):
        try:
            if isinstance(item, Ignored):
                ignored.append(item.reason)
            elif isinstance(item, ParsedInbound):
                accepted.append(_inbound(adapter, tenant_id, item, now))
            else:
                accepted.append(_status(adapter, tenant_id, item, now))
        except ValidationError as exc:  # a value the event schema refuses: the sender's fault
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            raise BadRequest(f"'{field}': {first['msg']}", 422, "bad_value") from exc
    return Intake(accepted, ignored)
