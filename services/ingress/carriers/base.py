"""What every carrier adapter works with: raw requests in, plain values or `BadRequest` out.

Adapters are pure (no I/O, no clock reads): the generic route in `webhooks.py` does tenant lookup,
verification, dedup, publishing and the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from libs.common.events.sms_status import DeliveryStatus


@dataclass(frozen=True)
class RawRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    query: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """The request is malformed; `status` is the 4xx to answer and the message says why."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class ParsedInbound:
    phone: str  # raw as the carrier sent it; normalised by the route
    to: str
    body: str
    carrier_message_id: str
    media_urls: tuple[str, ...] = ()
    opt_out_hint: str | None = None


@dataclass(frozen=True)
class ParsedStatus:
    phone: str
    carrier_message_id: str
    status: DeliveryStatus
    error_code: str | None = None


@dataclass(frozen=True)
class Adapter:
    """One carrier: how to verify and parse its webhooks, and what to answer."""

    name: str
    verify: object  # (RawRequest, credentials: dict[str, str] | None) -> bool
    parse_inbound: object  # (RawRequest) -> ParsedInbound
    parse_status: object  # (RawRequest) -> ParsedStatus
    ack: object  # () -> (body: bytes, media_type: str)
    needs_credentials: bool = True
