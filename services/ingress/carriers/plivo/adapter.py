"""Plivo messaging webhooks: inbound messages and message status callbacks.

Inbound: https://www.plivo.com/docs/messaging/api/message/handling-incoming
Status: https://www.plivo.com/docs/messaging/concepts/delivery-reports
Signatures: https://www.plivo.com/docs/messaging/concepts/signature-validation
(reference implementation: plivo/plivo-python `utils/__init__.py` (V2), `utils/signature_v3.py` (V3))
Error 200 = opted out: https://support.plivo.com/hc/en-us/articles/360041786171

    POST /webhooks/plivo/acme/inbound
    Content-Type: application/x-www-form-urlencoded
    X-Plivo-Signature-V3: Z68p+HCOG9wLJxDswSYtTT5VW1SgXOmOmn/XtFQZ2WE=
    X-Plivo-Signature-V3-Nonce: 05429567804466091622

    To=2020&From=60124361111&TotalRate=0&Units=1&Text=Hello&TotalAmount=0&Type=sms&MessageUUID=abc1234

Numbers are international without '+'. Where V3 headers are present they are checked (HMAC-SHA256
over the URL, the sorted parameters and the nonce: it covers the body); otherwise V2 (HMAC-SHA256
over the URL without its query, then the nonce). V2 does not cover the body, so prefer V3 where
Plivo sends it; the `-Ma-` variants (signed with the main account's token) are accepted too.

Credentials: `auth_token` (the (sub)account's auth token).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from services.ingress.carriers.base import (
    Adapter,
    Credentials,
    Forbidden,
    Ignored,
    ParsedInbound,
    ParsedStatus,
    RawRequest,
    b64,
    first_values,
    form_pairs,
    hmac_digest,
    optional_int,
    query_pairs,
    require,
    same,
    secret,
)

NAME = "plivo"

STATUS_MAP = {"queued": "queued", "sent": "sent", "delivered": "delivered",
              "undelivered": "undelivered", "failed": "failed", "rejected": "failed"}
OPTED_OUT = "200"  # Plivo: messages to a number that texted STOP fail with error code 200
_MEDIA = re.compile(r"^Media(?:Url)?(\d+)$")


def _base(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _grouped(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for name, value in pairs:
        grouped[name].append(value)
    return grouped


def signature_v2(url: str, nonce: str, token: str) -> str:
    return b64(hmac_digest(token, (_base(url) + nonce).encode(), "sha256"))


def signature_v3(method: str, url: str, body: Sequence[tuple[str, str]],
                 query: Sequence[tuple[str, str]], nonce: str, token: str) -> str:
    q, b = _grouped(query), _grouped(body)
    query_string = "&".join(f"{k}={v}" for k in sorted(q) for v in sorted(q[k]))
    params = "".join(f"{k}{v}" for k in sorted(b) for v in sorted(b[k]))
    if method == "GET" or not params:
        message = _base(url) + (f"?{query_string}" if query_string else "")
    else:
        message = _base(url) + "?" + query_string + ("." if query_string else "") + params
    return b64(hmac_digest(token, f"{message}.{nonce}".encode(), "sha256"))


def _header(req: RawRequest, version: str) -> tuple[list[str], str | None]:
    given = [req.header(f"x-plivo-signature-{version}"), req.header(f"x-plivo-signature-ma-{version}")]
    signatures = [s.strip() for value in given if value for s in value.split(",")]
    return signatures, req.header(f"x-plivo-signature-{version}-nonce")


def verify(req: RawRequest, creds: Credentials, now: datetime) -> None:
    token = secret(creds, "auth_token", NAME)
    v3, nonce3 = _header(req, "v3")
    if v3 and nonce3:
        body = form_pairs(req) if req.method != "GET" else []
        expected = signature_v3(req.method, req.url, body, query_pairs(req), nonce3, token)
        if not any(same(s, expected) for s in v3):
            raise Forbidden("X-Plivo-Signature-V3 does not match this URL and body")
        return
    v2, nonce2 = _header(req, "v2")
    if not v2 or not nonce2:
        raise Forbidden("missing X-Plivo-Signature-V3 or -V2 and its nonce", "missing_signature")
    if not any(same(s, signature_v2(req.url, nonce2, token)) for s in v2):
        raise Forbidden("X-Plivo-Signature-V2 does not match this URL")


def _fields(req: RawRequest) -> dict[str, str]:
    pairs = query_pairs(req) if req.method == "GET" else form_pairs(req)
    return first_values(pairs)


def _media(fields: dict[str, str]) -> tuple[str, ...]:
    found = sorted((int(m.group(1)), value) for name, value in fields.items()
                   if (m := _MEDIA.match(name)) and value)
    return tuple(url for _, url in found)


def parse_inbound(req: RawRequest) -> ParsedInbound | Ignored:
    fields = _fields(req)
    kind = fields.get("Type", "sms").lower()
    if kind not in ("sms", "mms"):
        return Ignored(f"message type {kind!r} is not SMS or MMS")
    return ParsedInbound(
        phone=require(fields, "From"), to=require(fields, "To"),
        body=fields.get("Text") or fields.get("Body") or "",
        carrier_message_id=require(fields, "MessageUUID"), media_urls=_media(fields),
        opt_out_hint=fields.get("MessageIntent") or None,
        segments=optional_int(fields.get("Units"), "Units"),
    )


def parse_status(req: RawRequest) -> ParsedStatus | Ignored:
    fields = {name.lower(): value for name, value in _fields(req).items()}
    raw_status = require(fields, "status").lower()
    status = STATUS_MAP.get(raw_status)
    if status is None:
        return Ignored(f"status {raw_status!r} is not a delivery receipt")
    error = fields.get("errorcode") or None
    # Parts of a long message each get a receipt; they share the ParentMessageUUID that the
    # send API returned, which is what the sender recorded.
    message_id = fields.get("parentmessageuuid") or require(fields, "messageuuid")
    return ParsedStatus(phone=require(fields, "to"), carrier_message_id=message_id, status=status,
                        error_code=error, recipient_opted_out=error == OPTED_OUT)


def ack() -> tuple[bytes, str]:
    return b'<?xml version="1.0" encoding="utf-8"?><Response></Response>', "application/xml"


adapter = Adapter(NAME, verify, parse_inbound, parse_status, ack,
                  methods=frozenset({"GET", "POST"}), numbers_without_plus=True)
