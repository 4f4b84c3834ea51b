"""Quiet hours: a marketing text reaches a subscriber only inside their local sending window.

The rule behind it: TCPA, 47 CFR 64.1200(c)(1) (no telephone solicitation before 8 a.m. or after
9 p.m. at the called party's location), narrowed by the tenant's own window and by the recipient's
state (`state_rules.py`: hours by weekday and holiday). Each is a rule of open hours per local
day; a message goes only when every rule is open. Local time comes from the number itself
(phonenumbers' time-zone data). A number that may be in several zones (an Alaska number: Anchorage
or Adak; a UK mobile: London, Jersey, Guernsey or the Isle of Man) is read the strictest way: the
message goes only when the window is open in every one of them.

A number phonenumbers cannot place (fictional 555-01xx numbers, unassigned ranges), or whose zones
never share an open hour, is judged in the tenant's fallback zone; with none set it is not held.
Pure: the clock comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezone

UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for a number it cannot place
_MAX_ROUNDS = 32
_MAX_DAYS = 15  # look this many local days ahead for open hours (a week plus holidays)
END_OF_DAY = time.max
Hours = tuple[time, time] | None


@dataclass(frozen=True)
class Window:
    """Local sending hours, [start, end) on the same day."""

    start: time = time(8)
    end: time = time(21)

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("the quiet-hours window must open before it closes on the same day")


@dataclass(frozen=True)
class Hold:
    """Outside the window: wait until `until` (UTC), the next moment every zone is open."""

    until: datetime
    reason: str
    rule: str = "quiet_hours"


@lru_cache(maxsize=65536)
def zones_for(phone: str) -> tuple[str, ...]:
    """The IANA zones a number may be in; () when phonenumbers cannot tell."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in phone_timezone.time_zones_for_number(parsed) if z != UNKNOWN_ZONE)
    return tuple(z for z in zones if _zone(z) is not None)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return None


DayHours = Callable[[date], Hours]
"""A rule's open hours on a local date ([start, end), or None when closed all day)."""


def daily(window: Window) -> DayHours:
    """The tenant's window: the same hours every day."""
    hours = (window.start, window.end)
    return lambda day: hours


def _hours_on(day: date, rules: Sequence[DayHours]) -> Hours:
    """The hours every rule leaves open on `day`: the intersection, or None."""
    start, end = time.min, END_OF_DAY
    for rule in rules:
        hours = rule(day)
        if hours is None:
            return None
        start, end = max(start, hours[0]), min(end, hours[1])
    return (start, end) if start < end else None


def _opening_at_or_after(moment: datetime, zone: ZoneInfo, rules: Sequence[DayHours]) -> datetime | None:
    """`moment` itself if every rule is open there, else the next local opening (UTC); None if no
    day of the next `_MAX_DAYS` has open hours. Times are compared on the local wall clock, so a
    DST change moves the UTC opening with it."""
    local = moment.astimezone(zone)
    for offset in range(_MAX_DAYS):
        day = local.date() + timedelta(days=offset)
        hours = _hours_on(day, rules)
        if hours is None:
            continue
        start, end = hours
        if offset == 0:
            if start <= local.time() < end:
                return moment
            if local.time() >= end:
                continue
        return datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
    return None


def common_opening(now: datetime, zones: Sequence[str],
                   rules: Window | Sequence[DayHours]) -> datetime | None:
    """The first moment at or after `now` that every rule leaves open in every zone (each zone's
    opening is a lower bound of the answer, so moving to the latest of them until all agree finds
    it); None if the zones never share an open hour."""
    rules = [daily(rules)] if isinstance(rules, Window) else list(rules)
    infos = [z for z in (_zone(name) for name in zones) if z is not None]
    moment = now
    for _ in range(_MAX_ROUNDS):
        openings = [_opening_at_or_after(moment, zone, rules) for zone in infos]
        if any(o is None for o in openings):
            return None
        later = max(openings)  # type: ignore[type-var]
        if later == moment:
            return moment
        moment = later
    return None


def placed(phone: str, now: datetime, rules: Sequence[DayHours], fallback_zone: str | None = None,
           unknown_zones: Sequence[str] = ()) -> tuple[tuple[str, ...], datetime] | None:
    """The zones `phone` is judged in and the first moment at or after `now` open in all of them:
    the number's own zones, else `unknown_zones` (its state's), else the tenant's fallback zone;
    None when it cannot be placed (then it is not held)."""
    zones: tuple[str, ...] = zones_for(phone) or tuple(unknown_zones)
    opening = common_opening(now, zones, rules) if zones else None
    if opening is None:
        if not fallback_zone or _zone(fallback_zone) is None:
            return None
        zones = (fallback_zone,)
        opening = common_opening(now, zones, rules)
        if opening is None:
            return None
    return zones, opening


def local_day(now: datetime, zones: Sequence[str]) -> date:
    """The date at `now` in the first of `zones` (the one reasons are told in)."""
    return now.astimezone(_zone(zones[0])).date()  # type: ignore[arg-type]


def local_time(now: datetime, zones: Sequence[str]) -> str:
    """"22:30 America/New_York", "+ N more zones" when there are several."""
    first = zones[0]
    shown = f"{now.astimezone(_zone(first)):%H:%M} {first}"  # type: ignore[arg-type]
    if len(zones) > 1:
        shown += f" (+{len(zones) - 1} more zone{'s' if len(zones) > 2 else ''})"
    return shown


def check(phone: str, now: datetime, window: Window, fallback_zone: str | None = None) -> Hold | None:
    """None when a marketing message may go to `phone` now under the tenant's window; else when it may."""
    found = placed(phone, now, [daily(window)], fallback_zone)
    if found is None or found[1] == now:
        return None
    zones, opening = found
    return Hold(opening, f"quiet hours: {local_time(now, zones)} is outside "
                         f"{window.start:%H:%M}-{window.end:%H:%M}; deferred to {opening:%Y-%m-%d %H:%M} UTC")


def require_zone_data() -> None:
    """Quiet hours need the IANA time-zone database (the system's, or the `tzdata` package): without
    it every number would look unplaceable and nothing would be held, so refuse to start instead."""
    if _zone("America/New_York") is None or not zones_for("+12125550123"):
        raise RuntimeError("no IANA time-zone data: install the system's tzdata or `pip install tzdata`")
