"""Quiet hours: a marketing text reaches a subscriber only inside their local sending window.

The rule behind it: TCPA, 47 CFR 64.1200(c)(1) (no telephone solicitation before 8 a.m. or after
9 p.m. at the called party's location), plus the stricter state laws (e.g. Florida's 8 a.m.–8 p.m.)
a tenant can follow by narrowing its window. Local time comes from the number itself
(phonenumbers' time-zone data). A number that may be in several zones (an Alaska number: Anchorage
or Adak; a UK mobile: London, Jersey, Guernsey or the Isle of Man) is read the strictest way: the
message goes only when the window is open in every one of them.

A number phonenumbers cannot place (fictional 555-01xx numbers, unassigned ranges), or whose zones
never share an open hour, is judged in the tenant's fallback zone; with none set it is not held.
Pure: the clock comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezone

UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for a number it cannot place
_MAX_ROUNDS = 16


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


def _opening_at_or_after(moment: datetime, zone: ZoneInfo, window: Window) -> datetime:
    """`moment` itself if the window is open there, else the next local opening (UTC)."""
    local = moment.astimezone(zone)
    if window.start <= local.time() < window.end:
        return moment
    day: date = local.date() if local.time() < window.start else local.date() + timedelta(days=1)
    return datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)


def common_opening(now: datetime, zones: Sequence[str], window: Window) -> datetime | None:
    """The first moment at or after `now` inside the window in every zone; None if the zones never
    share an open hour (they span more than the window leaves)."""
    infos = [z for z in (_zone(name) for name in zones) if z is not None]
    moment = now
    for _ in range(_MAX_ROUNDS):
        later = max(_opening_at_or_after(moment, zone, window) for zone in infos)
        if later == moment:
            return moment
        moment = later
    return None


def check(phone: str, now: datetime, window: Window, fallback_zone: str | None = None) -> Hold | None:
    """None when a marketing message may go to `phone` now; else when it may."""
    zones: Sequence[str] = zones_for(phone)
    opening = common_opening(now, zones, window) if zones else None
    if opening is None:
        if not fallback_zone or _zone(fallback_zone) is None:
            return None
        zones = (fallback_zone,)
        opening = common_opening(now, zones, window)
    if opening is None or opening == now:
        return None
    first = zones[0]
    shown = f"{now.astimezone(_zone(first)):%H:%M} {first}"  # type: ignore[arg-type]
    if len(zones) > 1:
        shown += f" (+{len(zones) - 1} more zone{'s' if len(zones) > 2 else ''})"
    return Hold(opening, f"quiet hours: {shown} is outside {window.start:%H:%M}-{window.end:%H:%M}; "
                         f"deferred to {opening:%Y-%m-%d %H:%M} UTC")


def require_zone_data() -> None:
    """Quiet hours need the IANA time-zone database (the system's, or the `tzdata` package): without
    it every number would look unplaceable and nothing would be held, so refuse to start instead."""
    if _zone("America/New_York") is None or not zones_for("+12125550123"):
        raise RuntimeError("no IANA time-zone data: install the system's tzdata or `pip install tzdata`")
