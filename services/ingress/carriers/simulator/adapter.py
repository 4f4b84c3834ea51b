"""The simulated carrier: the embedded mode's phone network, and how tests and demos text Parley.

    POST /webhooks/simulator/demo/inbound
    Content-Type: application/json

    {"from": "+15555550100", "to": "+15555550000", "body": "HELP", "id": "optional-unique-id"}

No signature: the simulator is served only while PARLEY_SIMULATOR is on (never in production
manifests). Without an `id`, each post is a new message.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import orjson

from services.ingress.carriers.base import (
    JSON_ACK,
    Adapter,
    BadRequest,
    Credentials,
    ParsedInbound,
    ParsedStatus,
    RawRequest,
)

NAME = "simulator"

STATUS_MAP = {"queued": "queued", "sent": "sent", "delivered": "delivered",
              "undelivered": "undelivered", "failed": "failed"}


def _json(req: RawRequest) -> dict:
    if "json" not in req.headers.get("content-type", ""):
        raise BadRequest("content type must be application/json", 415)
    try:
        data = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("JSON body must be an object")
    return data


def _field(data: dict, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or (name != "body" and not value.strip()):
        raise BadRequest(f"missing or non-string field '{name}'", 422)
    return value


def verify(req: RawRequest, creds: Credentials, now: datetime) -> None:
    return None


def parse_inbound(req: RawRequest) -> ParsedInbound:
    data = _json(req)
    message_id = data.get("id") or uuid.uuid4().hex
    return ParsedInbound(phone=_field(data, "from"), to=_field(data, "to"),
                         body=_field(data, "body"), carrier_message_id=str(message_id))


def parse_status(req: RawRequest) -> ParsedStatus:
    data = _json(req)
    status = STATUS_MAP.get(_field(data, "status"))
    if status is None:
        raise BadRequest(f"unknown status {data['status']!r}", 422)
    return ParsedStatus(phone=_field(data, "to"), carrier_message_id=_field(data, "id"),
                        status=status, error_code=data.get("error_code"))


def ack() -> tuple[bytes, str]:
    return JSON_ACK


adapter = Adapter(NAME, verify, parse_inbound, parse_status, ack, needs_credentials=False)
