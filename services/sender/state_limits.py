"""The recipient's state rules applied to one marketing message, on top of the tenant's window.

The state comes from the number's area code (`state_rules.Table.state_of`); the row in force is
read per local day, so a change dated in the table applies from that day. The message may go when
the tenant's window and the state's hours are both open in every zone the number may be in, and
(where the state limits marketing per 24 hours) once fewer than the limit went to the number in
the last 24 hours from any of the tenant's numbers. Otherwise it is deferred to the first moment
that satisfies all of them at once, and the rule that held it is named: `state_frequency_cap:FL`
when the limit is reached, `quiet_hours` when the tenant's own window is closed, else
`state_quiet_hours:TX`; the reason names the statute. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from services.sender import caps, quiet_hours
from services.sender.quiet_hours import DayHours, Hold, Window, daily, local_day, local_time
from services.sender.state_rules import StateRule, Table

_ALL_DAY = (time.min, quiet_hours.END_OF_DAY)


def _state_hours(table: Table, state: str) -> DayHours:
    def hours(day: date):
        rule = table.rule(state, day)
        return rule.hours(day) if rule is not None else _ALL_DAY
    return hours


def check(phone: str, now: datetime, rule: StateRule, table: Table, window: Window | None,
          fallback_zone: str | None, recent: Sequence[datetime] = ()) -> Hold | None:
    """None when the message may go now; else the moment every rule allows and the one that held it.
    `window` is the tenant's (None when its quiet hours are off); `recent` the times marketing
    messages went to this number in the last 24 hours."""
    rules = [_state_hours(table, rule.state)] + ([daily(window)] if window is not None else [])
    free_at = caps.frees_at(recent, now, rule.limit) if rule.limit else None
    start = max(now, free_at) if free_at is not None else now
    found = quiet_hours.placed(phone, start, rules, fallback_zone, table.zones(rule.state))
    if found is None:  # its hours cannot be placed: only the count can hold it
        return _capped(rule, recent, now, free_at, free_at) if free_at and free_at > now else None
    zones, opening = found
    if opening == now:
        return None
    if free_at is not None and free_at > now:
        return _capped(rule, recent, now, free_at, opening)
    state_open = quiet_hours.common_opening(now, zones, rules[:1]) == now
    day = local_day(now, zones)
    today = table.rule(rule.state, day) or rule
    local = f"{local_time(now, zones)} ({day:%A})"
    state_hours = f"{today.name}'s hours, {today.describe(day)} ({today.statute})"
    until = f"deferred to {opening:%Y-%m-%d %H:%M} UTC"
    if window is not None and quiet_hours.common_opening(now, zones, [daily(window)]) != now:
        also = "" if state_open else f" and {state_hours}"
        return Hold(opening, f"quiet hours: {local} is outside {window.start:%H:%M}-{window.end:%H:%M}"
                             f"{also}; {until}")
    return Hold(opening, f"state quiet hours: {local} is outside {state_hours}; {until}",
                f"state_quiet_hours:{rule.state}")


def _capped(rule: StateRule, recent: Sequence[datetime], now: datetime, free_at: datetime,
            opening: datetime) -> Hold:
    count = sum(1 for t in recent if t > now - caps.DAY)
    after = "" if opening == free_at else " and the sending hours open"
    return Hold(opening, f"state frequency limit: {count} marketing messages to this {rule.name} number "
                         f"in the last 24 hours (at most {rule.limit}, {rule.statute}); deferred to "
                         f"{opening:%Y-%m-%d %H:%M} UTC, once the oldest leaves the 24 hours{after}",
                f"state_frequency_cap:{rule.state}")
