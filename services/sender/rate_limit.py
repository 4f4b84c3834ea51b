"""Rate limits per sending number: a token bucket, kept in its GCRA form so that it is one
timestamp per number and reservations are exact.

Carriers meter throughput per sending number in message segments per second (US long code 1,
toll-free 3, short code 100 by default; 10DLC by campaign and brand score):
https://support.twilio.com/hc/en-us/articles/115002943027-Understanding-Twilio-Rate-Limits-and-Message-Queues
https://docs.aws.amazon.com/sms-voice/latest/userguide/sms-limitations-mps.html

The bucket's state is `tat`, the earliest time the next segment may go. A reservation of `cost`
segments at `now` takes the slot `max(now, tat - (burst - 1) * interval)` and moves `tat` on by
`cost` intervals, so concurrent senders (several replicas, one row under a lock) get distinct slots
and never exceed the rate. With `burst = 1` (the default) no one-second window ever holds more than
`rate` segments. Pure: the caller loads and stores `tat`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.common.config import Settings

NUMBER_TYPES = ("long_code", "toll_free", "short_code")


@dataclass(frozen=True)
class Reservation:
    send_at: datetime
    tat: datetime  # the bucket's new state


def interval(rate_per_s: float) -> timedelta:
    """Time between two sends, whole microseconds so that slots do not drift."""
    return timedelta(microseconds=max(1, round(1_000_000 / rate_per_s)))


def reserve(tat: datetime | None, now: datetime, rate_per_s: float, cost: int = 1,
            burst: int = 1) -> Reservation:
    step = interval(rate_per_s)
    start = now if tat is None or tat < now else tat
    send_at = max(now, start - (burst - 1) * step)
    return Reservation(send_at=send_at, tat=start + max(1, cost) * step)


def rate_for(settings: Settings, carrier: str, number_type: str, override: float | None) -> float | None:
    """Messages per second allowed on a number; None means unlimited.

    The number's own `rate_per_s` wins; then the type's default. The simulated carrier has no
    throughput limit of its own, so its numbers are only limited when they set one.
    """
    if not settings.rate_limits:
        return None
    if override is not None:
        return override if override > 0 else None
    if carrier == "simulator":
        return None
    rate = {"long_code": settings.rate_long_code, "toll_free": settings.rate_toll_free,
            "short_code": settings.rate_short_code}.get(number_type, settings.rate_long_code)
    return rate if rate > 0 else None
