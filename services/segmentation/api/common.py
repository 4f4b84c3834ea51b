"""Helpers every segmentation route shares: phones and rules checked into clear 422s."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from libs.common.phone import InvalidPhone, to_e164
from services.segmentation import rules

_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def e164(raw: str, field: str = "phone") -> str:
    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise HTTPException(422, f"{field}: {exc}") from exc


def loc_of(path: str) -> list[str | int]:
    """`rule.all[1].clicked` → ["body", "rule", "all", 1, "clicked"] (FastAPI's loc style)."""
    head, _, rest = path.partition(".")
    head, _, first_index = head.partition("[")
    loc: list[str | int] = ["body", head]
    if first_index:
        rest = f"[{first_index}" + (f".{rest}" if rest else "")
    elif rest:
        rest = "." + rest
    for name, index in _STEP.findall(rest):
        loc.append(int(index) if index else name)
    return loc


def parse_rule(raw: Any) -> rules.Node:
    try:
        return rules.parse(raw)
    except rules.RuleError as exc:
        raise HTTPException(422, [{"loc": loc_of(exc.path), "path": exc.path, "msg": exc.message,
                                   "type": "rule_error"}]) from exc


def utc(value: datetime | None) -> datetime | None:
    """A query's datetime in UTC (a naive one is taken as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> str:
    return uuid.uuid4().hex[:12]
