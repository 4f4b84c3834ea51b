"""What every input model shares: text that cannot be stored is refused wherever it sits, naming
its place; and the range a time of something that already happened may take.

PostgreSQL cannot store U+0000 in text (SQLite can, and a subscriber's phone would get it), and no
database, JSON answer or carrier can take a lone surrogate (`"\\ud800"` is valid JSON, not valid
text). Either, in any string of a body, a key included, is a 422 at the edge instead of a database
error later, in a request or in a consumer that would retry it into a dead letter. Typed string
fields refuse surrogates themselves; free-form ones (a segment's rule) rely on this.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationInfo, model_validator

CLOCK_SKEW = timedelta(minutes=5)  # a caller's clock may run a little ahead of ours
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # before SMS marketing as Parley knows it


STORED = {"stored": True}  # validation context for definitions read back from the database


def saving(info: ValidationInfo) -> bool:
    """True when a value is being saved (today's limits apply), False when a definition is read
    back with `STORED` (what it was saved under still loads)."""
    return not (info.context or {}).get("stored")


class InputError(ValueError):
    """A problem at `loc` inside the validated value; API errors append it to their location."""

    def __init__(self, loc: tuple, message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "text may not contain a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text may not contain a lone surrogate (\\ud800-\\udfff): it is not Unicode text"
    return None


def unstorable_at(value: Any, path: tuple = (), seen: set[int] | None = None) -> tuple[tuple, str] | None:
    """(where, why) for the first string in a JSON-like value that cannot be stored (a key counts
    as its own place). Each container is looked at once: YAML aliases may share one, or make one
    contain itself."""
    if isinstance(value, str):
        return (path, why) if (why := _unstorable(value)) else None
    if not isinstance(value, dict | list | tuple):
        return None
    seen = set() if seen is None else seen
    if id(value) in seen:
        return None
    seen.add(id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and (why := _unstorable(key)):
            return (*path, key), why
        if (found := unstorable_at(item, (*path, key), seen)) is not None:
            return found
    return None


def refuse_unstorable(value: Any) -> None:
    if (found := unstorable_at(value)) is not None:
        raise InputError(*found)


def past_utc(value: datetime, now: datetime) -> datetime:
    """When something already happened, in UTC (no offset means UTC); ValueError when it lies in
    the future, before `EARLIEST`, or off the calendar once in UTC."""
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{value.isoformat()} is off the calendar in UTC") from exc
    if value > now + CLOCK_SKEW:
        raise ValueError(f"{value.isoformat()} is in the future")
    if value < EARLIEST:
        raise ValueError(f"{value.isoformat()} is before {EARLIEST.year}")
    return value


class Input(BaseModel):
    """Base of the models a caller sends."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any, info: ValidationInfo) -> Any:
        if saving(info):
            refuse_unstorable(data)
        return data
