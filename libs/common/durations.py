"""Durations a tenant writes (`90s`, `30m`, `24h`, `2d`, `1w`): flow timers, tracked-link expiry.

One grammar and one range for all of them. A definition is checked against `MAX` when it is saved,
so a timer or an expiry can always be added to the current time; `limit=None` reads back what an
older version stored, where only the grammar and what a timedelta can hold still apply.
"""

from __future__ import annotations

import re
from datetime import timedelta

MAX = timedelta(days=365)
_FORM = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.ASCII)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EXAMPLES = {"s": "90s", "m": "30m", "h": "24h", "d": "2d", "w": "1w"}
LARGEST = timedelta.max.days * 86400  # seconds a timedelta can hold


def parse(text: str, limit: timedelta | None = MAX, units: str = "smhdw") -> timedelta:
    """The duration `text` names; ValueError saying why when it is not one or is out of range."""
    m = _FORM.match(str(text))
    if not m or m.group(2) not in units:
        raise ValueError(f"not a duration: {str(text)[:40]!r} (use e.g. "
                         f"{', '.join(_EXAMPLES[u] for u in units)})")
    digits = m.group(1).lstrip("0") or "0"
    # 21 digits are out of range in any unit: the cut keeps int() cheap on a megabyte of nines
    seconds = int(digits[:21]) * _SECONDS[m.group(2)]
    written = (digits if len(digits) <= 12 else digits[:9] + "…") + m.group(2)
    if limit is not None and not 0 < seconds <= limit.total_seconds():
        raise ValueError(f"{written} is out of range: a duration is more than 0 and at most "
                         f"{describe(limit)}")
    if seconds > LARGEST:
        raise ValueError(f"{written} is out of range")
    return timedelta(seconds=seconds)


def describe(value: timedelta) -> str:
    """`365d`, `4h`, `90s`: the largest unit that divides it."""
    seconds = int(value.total_seconds())
    for unit in "dhm":
        if seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"
