"""Capped exponential back-off with jitter: how long to wait before trying a dependency again.

Pure arithmetic, no clock: callers sleep. The jitter keeps replicas that lost a broker or a
database at the same moment from knocking on it in step when it comes back.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.25
    cap_s: float = 5.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The pause after failed attempt `attempt` (1, 2, …): the step doubles from `base_s` up to
        `cap_s`, and the pause is half the step plus a random share of the other half ("equal
        jitter"), so it never falls below half the step nor exceeds the cap."""
        step = min(self.cap_s, self.base_s * 2.0 ** min(max(attempt, 1) - 1, 62))
        return step / 2 + rand() * step / 2


# Waiting for the database or the broker: first retries quickly, then at most every 5 s, so a
# service is ready within about 5 s of its dependency answering again.
DEPENDENCY = Backoff()
