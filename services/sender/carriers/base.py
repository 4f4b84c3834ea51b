"""What every carrier client shares: the message it is given, the three outcomes it reads, helpers.

A client module (`carriers/<name>/client.py`) is pure and has the same shape everywhere:

    NAME, BASE_URL, IDEMPOTENT, OPTED_OUT, LOOKUP_LAG_S
    build_request(msg, creds, base_url=BASE_URL) -> httpx.Request
    read_response(resp) -> Sent | Retry | Failed
    build_lookup(sought, creds, base_url=BASE_URL) -> httpx.Request | None
    read_lookup(resp, sought) -> Found | NotFound | Unknown | Retry

`IDEMPOTENT` says the carrier honours an idempotency key (the message id), so a request whose
answer was lost may be repeated; otherwise it is never repeated (a double send costs money and
may break consent rules). Instead, once the attempt can no longer reach the carrier, the carrier's
own message list is searched for it (`build_lookup`/`read_lookup`): `Found` settles it as sent,
`NotFound` lets it be sent again, `Unknown` says the list cannot tell (`None` from `build_lookup`:
the carrier offers no usable list). `LOOKUP_LAG_S` is how long a just-accepted message may take to
appear in that list. Credentials are the tenant's values stored with
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


@dataclass(frozen=True)
class Sought:
    """A message whose send has an unknown outcome, as a lookup searches the carrier for it: what was
    sent, and the window in which the carrier can have accepted it."""

    message_id: str
    to: str  # E.164
    from_: str
    text: str
    segments: int
    since: datetime  # the attempt started (a little before: clocks differ)
    until: datetime  # after this, the attempt could no longer reach the carrier
    known: frozenset[str] = frozenset()  # carrier ids Parley already holds for other messages


@dataclass(frozen=True)
class Found:
    """The carrier has the message: it was sent, with this id (receipts will name it)."""

    carrier_message_id: str
    status: str = "queued"


@dataclass(frozen=True)
class NotFound:
    """The carrier's list, read in full for the window, has no such message: it was never accepted."""

    reason: str


@dataclass(frozen=True)
class Unknown:
    """The list cannot tell (no list, message bodies not kept, too many candidates, refused)."""

    reason: str


Lookup = Found | NotFound | Unknown | Retry


class MissingCredentials(ValueError):
    pass


class Client(Protocol):
    NAME: str
    BASE_URL: str
    IDEMPOTENT: bool

    def build_request(self, msg: Outgoing, creds: Credentials, base_url: str = ...) -> httpx.Request: ...

    def read_response(self, resp: httpx.Response) -> Outcome: ...

    LOOKUP_LAG_S: float

    def build_lookup(self, msg: Sought, creds: Credentials, base_url: str = ...) -> httpx.Request | None: ...

    def read_lookup(self, resp: httpx.Response, msg: Sought) -> Lookup: ...


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


def in_window(at: datetime | None, msg: Sought) -> bool:
    return at is not None and msg.since <= at <= msg.until


def pick(candidates: list[tuple[str, str]], msg: Sought, complete: bool, carrier: str,
         evidence: str) -> Lookup:
    """The verdict from the carrier messages that match `msg` by `evidence` (carrier id, status),
    leaving out ids Parley already holds for other messages. One match: found. None in a list read
    in full: not found. More than one, or a list cut short: the list cannot tell."""
    fresh = [c for c in candidates if c[0] not in msg.known]
    if len(fresh) == 1:
        return Found(*fresh[0])
    if len(fresh) > 1:
        return Unknown(f"{len(fresh)} {carrier} messages match by {evidence} in the attempt window; "
                       "which one is this message cannot be told")
    if not complete:
        return Unknown(f"{carrier} lists more messages in the attempt window than one page holds; "
                       "the rest was not searched")
    return NotFound(f"{carrier} has no message matching by {evidence} in the attempt window")


def utc(value: object) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (naive means UTC), or None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def listed(data: dict, key: str) -> list[dict] | None:
    """The records under `key`, or None when the answer does not have that list (never read an
    unreadable answer as "no such message")."""
    items = data.get(key)
    if not isinstance(items, list):
        return None
    return [i for i in items if isinstance(i, dict)]


UNREADABLE = "the carrier's message list answered in an unreadable shape"


def lookup_refused(resp: httpx.Response, carrier: str) -> Lookup | None:
    """429/5xx: look again later; any other non-2xx: the list cannot be read (credentials, product
    not enabled); None for a 2xx, which the client reads."""
    if (retry := transient(resp)) is not None:
        return retry
    if resp.status_code >= 300:
        return Unknown(f"{carrier}'s message list answered HTTP {resp.status_code}")
    return None
