"""Frequency caps: at most N marketing messages per subscriber per day and M per week, per tenant.

Windows roll (the last 24 hours, the last 7 days) rather than follow calendar days, so a cap never
allows a burst across midnight. Only marketing counts and only marketing is capped: replies,
transactional and compliance messages are answers the subscriber asked for. A message over the
tenant's cap is suppressed, not deferred: a stale offer sent days later helps nobody. A state's
limit (`frees_at`, e.g. Florida's three per 24 hours) restricts how many go out in a period, not
whether one may: a message over it waits for the slot to free instead. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = timedelta(days=1)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Caps:
    per_day: int | None = None
    per_week: int | None = None

    @property
    def active(self) -> bool:
        return self.per_day is not None or self.per_week is not None


def since(now: datetime) -> tuple[datetime, datetime]:
    """Where the day and week windows start."""
    return now - DAY, now - WEEK


def over_cap(sent_last_day: int, sent_last_week: int, caps: Caps) -> str | None:
    """Why one more marketing message would break a cap, or None when it fits."""
    if caps.per_day is not None and sent_last_day >= caps.per_day:
        return f"frequency cap: {sent_last_day} marketing messages in the last 24 hours (cap {caps.per_day})"
    if caps.per_week is not None and sent_last_week >= caps.per_week:
        return f"frequency cap: {sent_last_week} marketing messages in the last 7 days (cap {caps.per_week})"
    return None


def frees_at(sent_at: Sequence[datetime], now: datetime, limit: int,
             period: timedelta = DAY) -> datetime | None:
    """None when one more send fits under `limit` sends in any rolling `period`; else the moment
    it does: when the oldest of the last `limit` sends leaves the window (a send exactly `period`
    old no longer counts)."""
    recent = sorted(t for t in sent_at if t > now - period)
    if len(recent) < limit:
        return None
    return recent[-limit] + period
