"""What every carrier client shares: the message it is given, the three outcomes it reads, helpers.

A client module (`carriers/<name>/client.py`) is pure and has the same shape everywhere:

    NAME, BASE_URL, IDEMPOTENT, OPTED_OUT
    build_request(msg, creds, base_url=BASE_URL) -> httpx.Request
    read_response(resp) -> Sent | Retry | Failed

`IDEMPOTENT` says the carrier honours an idempotency key (the message id), so a request whose
answer was lost may be repeated; otherwise it is never repeated (a double send costs money and
may break consent rules). Credentials are the tenant's values stored with
`PUT /v1/tenants/{id}/credentials/{carrier}`; a missing one raises `MissingCredentials`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

Credentials = dict[str, str]


@dataclass(frozen=True)
class Outgoing:
    """One message as a carrier client sees it."""

    message_id: str  # Parley's id: the idempotency key and the carrier-side reference
    to: str  # E.164
    from_: str  # E.164 or a short code
    text: str  # final text: links rewritten, look-alikes replaced
    unicode: bool = False  # UCS-2 needed (some APIs want to be told)
    status_url: str | None = None  # where the carrier should post delivery receipts


@dataclass(frozen=True)
class Sent:
    carrier_message_id: str
    status: str = "queued"  # the carrier's first delivery status


@dataclass(frozen=True)
class Retry:
    """Try again later: throttled (429), the carrier's fault (5xx) or no answer at all."""

    reason: str
    after: float | None = None  # seconds, from Retry-After when the carrier said


@dataclass(frozen=True)
class Failed:
    """Permanent: sending the same request again would fail again."""

    reason: str
    code: str | None = None
    opted_out: bool = False  # the carrier says the recipient opted out (Twilio 21610 and kin)
    uncertain: bool = False  # no answer and no idempotency key: it may have been sent


Outcome = Sent | Retry | Failed


class MissingCredentials(ValueError):
    pass


class Client(Protocol):
    NAME: str
    BASE_URL: str
    IDEMPOTENT: bool

    def build_request(self, msg: Outgoing, creds: Credentials, base_url: str = ...) -> httpx.Request: ...

    def read_response(self, resp: httpx.Response) -> Outcome: ...


def need(creds: Credentials, carrier: str, *names: str) -> list[str]:
    missing = [n for n in names if not creds.get(n)]
    if missing:
        raise MissingCredentials(f"{carrier} credentials lack {', '.join(missing)}")
    return [creds[n] for n in names]


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def retry_after(resp: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date, RFC 9110 §10.2.3)."""
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def transient(resp: httpx.Response) -> Retry | None:
    """429 and 5xx are the carrier saying "not now"; everything else is for the client to read."""
    if resp.status_code == 429:
        return Retry("throttled by the carrier (HTTP 429)", retry_after(resp))
    if resp.status_code >= 500:
        return Retry(f"carrier error (HTTP {resp.status_code})", retry_after(resp))
    return None


def json_body(resp: httpx.Response) -> dict:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
