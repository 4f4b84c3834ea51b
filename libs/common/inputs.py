"""What every input model shares: a NUL character is refused wherever it sits, naming its place.

PostgreSQL cannot store U+0000 in text (SQLite can, and a subscriber's phone would get it), so a
NUL in any string of a body, a key included, is a 422 at the edge instead of a database error
later, in a request or in a consumer that would retry it into a dead letter.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator


class InputError(ValueError):
    """A problem at `loc` inside the validated value; API errors append it to their location."""

    def __init__(self, loc: tuple, message: str) -> None:
        super().__init__(message)
        self.loc = loc


def nul_at(value: Any, path: tuple = (), seen: set[int] | None = None) -> tuple | None:
    """Where the first NUL character in a JSON-like value is (a key counts as its own place).
    Each container is looked at once: YAML aliases may share one, or make one contain itself."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if not isinstance(value, dict | list | tuple):
        return None
    seen = set() if seen is None else seen
    if id(value) in seen:
        return None
    seen.add(id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        if (found := nul_at(item, (*path, key), seen)) is not None:
            return found
    return None


def refuse_nul(value: Any) -> None:
    if (path := nul_at(value)) is not None:
        raise InputError(path, "text may not contain a NUL character (\\u0000)")


class Input(BaseModel):
    """Base of the models a caller sends."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        refuse_nul(data)
        return data
