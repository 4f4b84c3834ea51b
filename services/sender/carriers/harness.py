"""The carrier-client test table: every client is run against its fake API on 127.0.0.1 with real
httpx calls, so the request format, the authentication, the retry policy and the error reading are
all exercised the way production exercises them. No call ever leaves the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from libs.common.testing.http import local_server
from services.sender.carriers.base import Client, Failed, Lookup, Outgoing, Retry, Sent, Sought
from services.sender.carriers.delivery import deliver, find
from services.sender.carriers.fakes import CREDENTIALS, Call, FakeCarrier, Forced

MESSAGE = Outgoing(message_id="9f0c2a9e0b7d4c55a1e3f0d2c6b8a901", to="+12125550100",
                   from_="+13125550000", text="Flash sale: 30% off today", unicode=False,
                   status_url="https://parley.example/webhooks/x/acme/status")


AT = datetime(2026, 11, 20, 17, 0, 1, tzinfo=UTC)  # when the attempt started
SOUGHT = Sought(message_id=MESSAGE.message_id, to=MESSAGE.to, from_=MESSAGE.from_, text=MESSAGE.text,
                segments=1, since=AT - timedelta(seconds=2), until=AT + timedelta(seconds=39))


@dataclass(frozen=True)
class ClientCase:
    label: str
    script: tuple[Forced, ...] = ()
    expect: type = Sent
    calls: int = 1
    waits: tuple[float, ...] = ()  # exact waits between tries (Retry-After); () = none, unless jitter
    jitter: bool = False  # one backoff wait, from the jittered exponential policy
    recipient_opted_out: bool = False
    opted_out: bool = False
    uncertain: bool = False
    wrong_credentials: bool = False
    read_timeout: float = 5.0
    deadline_s: float | None = None  # the attempt window `deliver` is cut off at
    same_request: bool = False  # every try byte-identical (idempotent replays need it)


@dataclass
class Result:
    outcome: object
    calls: list[Call]
    waits: list[float] = field(default_factory=list)


def standard_cases() -> list[ClientCase]:
    """What every carrier must do the same way."""
    return [
        ClientCase("accepted"),
        ClientCase("429 is retried after the Retry-After it names",
                   (Forced(429, {"Retry-After": "1"}),), calls=2, waits=(1.0,)),
        ClientCase("503 is retried with jittered backoff", (Forced(503),), calls=2, jitter=True),
        ClientCase("503 with Retry-After is retried after it", (Forced(503, {"Retry-After": "2"}),),
                   calls=2, waits=(2.0,)),
        ClientCase("a long Retry-After is left to the deferred loop", (Forced(429, {"Retry-After": "30"}),),
                   expect=Retry),
        ClientCase("three 5xx in a row are left to the deferred loop",
                   (Forced(500), Forced(502), Forced(503)), expect=Retry, calls=3, jitter=True),
        ClientCase("400 is permanent and not retried", (Forced(400),), expect=Failed),
        ClientCase("wrong credentials are permanent", wrong_credentials=True, expect=Failed),
    ]


SECRETS = frozenset({"auth_token", "api_secret", "password"})


def credentials(carrier: str, wrong: bool = False) -> dict[str, str]:
    creds = dict(CREDENTIALS[carrier])
    if wrong:
        creds = {k: "wrong" if k in SECRETS or (carrier == "telnyx" and k == "api_key") else v
                 for k, v in creds.items()}
    return creds


async def run_client_case(client: Client, case: ClientCase) -> Result:
    fake = FakeCarrier(client.NAME)
    fake.script.extend(case.script)
    if case.recipient_opted_out:
        fake.opted_out.add(MESSAGE.to)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    timeout = httpx.Timeout(5.0, read=case.read_timeout)
    async with local_server(fake) as url, httpx.AsyncClient(timeout=timeout) as http:
        outcome = await deliver(client, MESSAGE, credentials(client.NAME, case.wrong_credentials),
                                http=http, base_url=url, sleep=sleep, deadline_s=case.deadline_s)
    result = Result(outcome, fake.calls, waits)
    check(case, result)
    return result


def check(case: ClientCase, result: Result) -> None:
    outcome = result.outcome
    assert isinstance(outcome, case.expect), f"{case.label}: got {outcome!r}"
    assert len(result.calls) == case.calls, f"{case.label}: {len(result.calls)} calls"
    if case.jitter:  # equal jitter: each wait in [step/2, step], the step doubling from 0.25 s
        assert len(result.waits) == case.calls - 1, result.waits
        for i, wait in enumerate(result.waits):
            step = 0.25 * 2 ** i
            assert step / 2 <= wait <= step, result.waits
    else:
        assert tuple(result.waits) == case.waits, result.waits
    if isinstance(outcome, Sent):
        assert outcome.carrier_message_id
    if isinstance(outcome, Failed):
        assert outcome.opted_out is case.opted_out, outcome
        assert outcome.uncertain is case.uncertain, outcome
    if case.same_request:
        assert len({(c.path, c.body, c.headers.get("idempotency-key")) for c in result.calls}) == 1


@dataclass
class LookupResult:
    sent: object  # what the send got (None when nothing was sent first)
    verdict: Lookup | None
    fake: FakeCarrier


async def run_lookup(client: Client, *, send_first: bool, sought: Sought = SOUGHT,
                     script: tuple[Forced, ...] = ()) -> LookupResult:
    """Optionally send MESSAGE to the carrier's fake (accepted at AT), then look it up there."""
    fake = FakeCarrier(client.NAME, clock=lambda: AT)
    creds = credentials(client.NAME)
    async with local_server(fake) as url, httpx.AsyncClient(timeout=5.0) as http:
        sent = await deliver(client, MESSAGE, creds, http=http, base_url=url) if send_first else None
        fake.script.extend(script)
        verdict = await find(client, sought, creds, http=http, base_url=url)
    return LookupResult(sent, verdict, fake)


def listed(payload: dict, status: int = 200) -> httpx.Response:
    """A message-list answer, as `read_lookup` gets it."""
    return httpx.Response(status, json=payload, request=httpx.Request("GET", "http://127.0.0.1/"))
