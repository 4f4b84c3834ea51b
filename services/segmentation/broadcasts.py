"""Broadcasts: the launch state machine and the pacing of enrollments. Pure: `now` comes in.

A broadcast resolves its audience when it is launched (the segment's members, opted-out
excluded) into one recipient row each, then a periodic job enrolls them at `rate_per_minute`:
every tick earns credit for the time since the last one, and each whole credit enrolls one
recipient. Credit is capped at one minute's worth, so a broadcast that was paused or whose
service was down does not burst on resume; paused time earns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATES = ("running", "paused", "completed", "cancelled")
ACTIONS = {
    "pause": ({"running"}, "paused"),
    "resume": ({"paused"}, "running"),
    "cancel": ({"running", "paused"}, "cancelled"),
}
MAX_BATCH = 1000  # enrollments per broadcast per tick: keeps one transaction short


class TransitionError(ValueError):
    pass


def transition(state: str, action: str) -> str:
    sources, target = ACTIONS[action]
    if state not in sources:
        raise TransitionError(f"cannot {action} a broadcast that is {state}")
    return target


def enrollment_id(broadcast_id: str, phone: str) -> str:
    return f"{broadcast_id}:{phone}"


@dataclass(frozen=True)
class Allowance:
    count: int  # recipients to enroll now
    credit: float  # credit left over for the next tick


def allowance(rate_per_minute: int, credit: float, paced_at: datetime, now: datetime,
              max_batch: int = MAX_BATCH) -> Allowance:
    elapsed = max((now - paced_at).total_seconds(), 0.0)
    earned = min(credit + elapsed * rate_per_minute / 60.0, float(max(rate_per_minute, 1)))
    count = min(int(earned), max_batch)
    return Allowance(count=count, credit=earned - count)
