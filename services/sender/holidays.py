"""Holiday calendars for the state rules that bar solicitations on holidays (data/state_rules.yaml).

A calendar is a list of rules, each a fixed date ("07-04") or the nth weekday of a month on or
after a day ("third Monday of January": weekday mon, nth 3; "last Monday of May": nth -1;
"Tuesday after the first Monday of November": weekday tue, nth 1, from_day 2), optionally in even
or odd years only, and the days it is also observed on when it falls on a weekend (`sat_to_fri`:
federal employees take the Friday before; `sat_to_mon`, `sun_to_mon`: the Monday after). A day is a
holiday when any rule lands on it, the actual date or an observed one, so the union of the
federal and state observances is barred. Pure; dates are computed once per calendar and year.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Shift = Literal["sat_to_fri", "sat_to_mon", "sun_to_mon"]
_SHIFTS: dict[str, tuple[int, int]] = {"sat_to_fri": (5, -1), "sat_to_mon": (5, 2), "sun_to_mon": (6, 1)}


@dataclass(frozen=True)
class Holiday:
    name: str
    month: int
    day: int | None = None  # a fixed date; else weekday + nth
    weekday: str | None = None
    nth: int | None = None  # 1..5, or -1 for the last
    from_day: int = 1  # count the nth weekday on or after this day of the month
    years: Literal["all", "even", "odd"] = "all"
    observed: tuple[Shift, ...] = ()

    def actual(self, year: int) -> date | None:
        if self.years != "all" and (year % 2 == 0) != (self.years == "even"):
            return None
        if self.day is not None:
            return date(year, self.month, self.day)
        wanted = WEEKDAYS.index(self.weekday or "")
        if self.nth == -1:
            last = date(year, self.month, calendar.monthrange(year, self.month)[1])
            return last - timedelta(days=(last.weekday() - wanted) % 7)
        first = date(year, self.month, self.from_day)
        found = first + timedelta(days=(wanted - first.weekday()) % 7 + 7 * ((self.nth or 1) - 1))
        return found if found.month == self.month else None

    def days(self, year: int) -> list[date]:
        """The actual date in `year` and the days it is observed on (which may fall in another year)."""
        actual = self.actual(year)
        if actual is None:
            return []
        out = [actual]
        for shift in self.observed:
            weekday, delta = _SHIFTS[shift]
            if actual.weekday() == weekday:
                out.append(actual + timedelta(days=delta))
        return out


@lru_cache(maxsize=256)
def _of_year(holidays: tuple[Holiday, ...], year: int) -> dict[date, str]:
    found: dict[date, str] = {}
    for y in (year - 1, year, year + 1):  # 1 January on a Saturday is observed on 31 December
        for h in holidays:
            for d in h.days(y):
                if d.year == year:
                    found.setdefault(d, h.name)
    return found


def holiday_on(holidays: Sequence[Holiday], day: date) -> str | None:
    """The name of the holiday `day` is (actual or observed), or None."""
    return _of_year(tuple(holidays), day.year).get(day)
