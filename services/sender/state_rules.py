"""The state rules for marketing texts (data/state_rules.yaml): which state an area code belongs to,
each state's sending hours by weekday and holiday, and its limit per rolling 24 hours, row by
effective date, each row naming its statute and where it was checked.

`load` validates the whole file and raises `StateRulesError` naming the row and field at fault;
the sender loads it on start (`require_state_rules`), so a malformed table stops the sender
instead of letting messages go unchecked. Lookups are pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.sender import holidays
from services.sender.holidays import WEEKDAYS, Holiday
from services.sender.quiet_hours import END_OF_DAY, Hours

PATH = Path(__file__).parent / "data" / "state_rules.yaml"
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


class StateRulesError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _days(spec: str) -> list[int]:
    """"mon-fri" → [0..4]; "sat" → [5]; "daily" → all."""
    if spec == "daily":
        return list(range(7))
    first, _, last = spec.partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        raise ValueError(f"{spec!r} is not a day, a range of days (mon-fri) or daily")
    a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    if b < a:
        raise ValueError(f"{spec!r} runs backwards")
    return list(range(a, b + 1))


def _parse_hours(value: str) -> Hours:
    if value == "closed":
        return None
    m = _HOURS.match(value)
    if not m:
        raise ValueError(f"{value!r} is not HH:MM-HH:MM or closed")
    start = time(int(m.group(1)), int(m.group(2)))
    end = END_OF_DAY if m.group(3) == "24" else time(int(m.group(3)), int(m.group(4)))
    if not start < end:
        raise ValueError(f"{value!r} must open before it closes on the same day")
    return start, end


class HolidayClosure(_Strict):
    calendar: str
    closes: str = Field("daily", description="The weekdays a holiday closes (mon-fri: weekday holidays).")

    @field_validator("closes")
    @classmethod
    def _closes(cls, v: str) -> str:
        _days(v)
        return v


class RuleRow(_Strict):
    state: str
    effective: date
    hours: dict[str, str]
    holidays: HolidayClosure | None = None
    max_marketing_per_24h: int | None = Field(None, ge=1)
    statute: str = Field(min_length=3)
    summary: str = Field(min_length=3)
    sources: list[str] = Field(min_length=1)

    @field_validator("sources")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not re.match(r"^https?://\S+$", url):
                raise ValueError(f"{url!r} is not a URL")
        return v

    @model_validator(mode="after")
    def _every_day_once(self) -> RuleRow:
        seen: dict[int, str] = {}
        for spec, value in self.hours.items():
            _parse_hours(value)
            for d in _days(spec):
                if d in seen:
                    raise ValueError(f"hours: {WEEKDAYS[d]} is given twice ({seen[d]!r} and {spec!r})")
                seen[d] = spec
        if missing := [WEEKDAYS[d] for d in range(7) if d not in seen]:
            raise ValueError(f"hours: no hours for {', '.join(missing)} (write closed for a closed day)")
        return self

    @cached_property
    def week(self) -> tuple[Hours, ...]:
        by_day: dict[int, Hours] = {}
        for spec, value in self.hours.items():
            for d in _days(spec):
                by_day[d] = _parse_hours(value)
        return tuple(by_day[d] for d in range(7))


class StateDef(_Strict):
    name: str
    zones: list[str] = Field(min_length=1)
    area_codes: list[int] = Field(min_length=1)

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        for z in v:
            try:
                ZoneInfo(z)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"unknown time zone {z!r}") from exc
        return v

    @field_validator("area_codes")
    @classmethod
    def _npa(cls, v: list[int]) -> list[int]:
        for npa in v:
            if not 200 <= npa <= 999:
                raise ValueError(f"{npa} is not a NANP area code")
        return v


class HolidayRule(_Strict):
    name: str
    date: str | None = Field(None, pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    month: int | None = Field(None, ge=1, le=12)
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    nth: int | None = Field(None, ge=-1, le=5)
    from_day: int = Field(1, ge=1, le=28)
    years: Literal["all", "even", "odd"] = "all"
    observed: list[Literal["sat_to_fri", "sat_to_mon", "sun_to_mon"]] = []

    @model_validator(mode="after")
    def _one_form(self) -> HolidayRule:
        if (self.date is None) == (self.weekday is None):
            raise ValueError("a holiday is either a date (MM-DD) or a month, weekday and nth")
        if self.weekday is not None and (self.month is None or self.nth in (None, 0)):
            raise ValueError("a weekday holiday needs month and nth (1..5, or -1 for the last)")
        return self

    def to_holiday(self) -> Holiday:
        month, day = (int(p) for p in self.date.split("-")) if self.date else (self.month, None)
        return Holiday(self.name, month, day, self.weekday, self.nth, self.from_day, self.years,
                       tuple(self.observed))


class Calendar(_Strict):
    summary: str
    sources: list[str] = Field(min_length=1)
    holidays: list[HolidayRule] = Field(min_length=1)


class AreaCodeSource(_Strict):
    name: str
    url: str
    checked: date


class RulesFile(_Strict):
    version: Literal[1]
    area_codes_source: AreaCodeSource
    states: dict[str, StateDef]
    rules: list[RuleRow] = Field(min_length=1)
    holiday_calendars: dict[str, Calendar] = {}

    @model_validator(mode="after")
    def _consistent(self) -> RulesFile:
        owner: dict[int, str] = {}
        for code, state in self.states.items():
            for npa in state.area_codes:
                if npa in owner:
                    raise ValueError(f"area code {npa} is listed for {owner[npa]} and {code}")
                owner[npa] = code
        seen: set[tuple[str, date]] = set()
        for i, row in enumerate(self.rules):
            if row.state not in self.states:
                raise ValueError(f"rules[{i}]: state {row.state!r} is not in states")
            if (row.state, row.effective) in seen:
                raise ValueError(f"rules[{i}]: a second {row.state} row effective {row.effective}")
            seen.add((row.state, row.effective))
            if row.holidays and row.holidays.calendar not in self.holiday_calendars:
                raise ValueError(f"rules[{i}]: unknown holiday calendar {row.holidays.calendar!r}")
        return self


@dataclass(frozen=True)
class StateRule:
    """The row in force for one state: what the policy needs, and how to name it."""

    state: str
    name: str
    row: RuleRow
    calendar: tuple[Holiday, ...]

    @property
    def limit(self) -> int | None:
        return self.row.max_marketing_per_24h

    @property
    def statute(self) -> str:
        return self.row.statute

    def holiday(self, day: date) -> str | None:
        h = self.row.holidays
        if h is None or day.weekday() not in _days(h.closes):
            return None
        return holidays.holiday_on(self.calendar, day)

    def hours(self, day: date) -> Hours:
        """Open hours on a local date; None when closed (the weekday, or a holiday)."""
        return None if self.holiday(day) else self.row.week[day.weekday()]

    def describe(self, day: date) -> str:
        """"08:00-20:00 on Saturday", "closed on Sunday", "closed on Victory Day"."""
        if name := self.holiday(day):
            return f"closed on {name}"
        hours = self.row.week[day.weekday()]
        weekday = day.strftime("%A")
        if hours is None:
            return f"closed on {weekday}"
        end = "24:00" if hours[1] == END_OF_DAY else f"{hours[1]:%H:%M}"
        return f"{hours[0]:%H:%M}-{end} on {weekday}"


@dataclass(frozen=True)
class Table:
    states: Mapping[str, StateDef]
    rows: tuple[RuleRow, ...]
    calendars: Mapping[str, tuple[Holiday, ...]]

    @cached_property
    def _by_npa(self) -> dict[int, str]:
        return {npa: code for code, s in self.states.items() for npa in s.area_codes}

    def state_of(self, phone: str) -> str | None:
        """The state of a NANP number's area code (E.164 +1 NPA NXX XXXX), or None."""
        if len(phone) != 12 or not phone.startswith("+1") or not phone[1:].isdigit():
            return None
        return self._by_npa.get(int(phone[2:5]))

    def zones(self, state: str) -> tuple[str, ...]:
        return tuple(self.states[state].zones)

    def rule(self, state: str | None, day: date) -> StateRule | None:
        """The row in force for `state` on `day` (the latest whose effective date has come)."""
        if state is None:
            return None
        rows = [r for r in self.rows if r.state == state and r.effective <= day]
        if not rows:
            return None
        row = max(rows, key=lambda r: r.effective)
        cal = self.calendars.get(row.holidays.calendar, ()) if row.holidays else ()
        return StateRule(state, self.states[state].name, row, cal)


def parse(raw: object, source: str = "state rules") -> Table:
    try:
        spec = RulesFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise StateRulesError(f"{source}: {where}: {first['msg']}") from exc
    return Table(states=spec.states, rows=tuple(spec.rules),
                 calendars={name: tuple(h.to_holiday() for h in cal.holidays)
                            for name, cal in spec.holiday_calendars.items()})


def load(path: Path | None = None) -> Table:
    path = path or PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise StateRulesError(f"{path}: cannot be read as YAML: {exc}") from exc
    return parse(raw, str(path))


@lru_cache(maxsize=1)
def shipped() -> Table:
    """The table in data/state_rules.yaml, loaded once per process."""
    return load()


def require_state_rules() -> None:
    """Load and validate the shipped table on start; a bad file stops the sender with its error."""
    shipped.cache_clear()
    shipped()
