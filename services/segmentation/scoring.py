"""Engagement scoring: points per rule (per-tenant weights over defaults), the score floor, and the
quiet-period decay. Pure: times come in as arguments.

Rules and their default points:

| rule        | when                                                        | points |
|-------------|-------------------------------------------------------------|--------|
| delivered   | a carrier confirmed delivery of a message (once per message) | +1     |
| clicked     | a human opened a tracked link (once per link)               | +5     |
| replied     | any inbound reply                                           | +8     |
| intent      | the router saw a purchase-intent keyword (on top of replied) | +12    |
| completed   | a multi-step conversation completed                         | +15    |
| decay       | 30 days without a reply or click (once per 30 quiet days)   | −10    |

Any other `score_event` name scores what the tenant's weights give it (0 by default). A score
never goes below zero: a change that would is recorded with the delta actually applied, so the
history always sums to the score.

Weights a tenant sets must name a rule above or a score event one of its flows or campaigns
records, within ±`MAX_WEIGHT`; engagement rules give points (0 or more) and decay takes them
(0 or less).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_WEIGHTS: dict[str, int] = {
    "delivered": 1,
    "clicked": 5,
    "replied": 8,
    "intent": 12,
    "completed": 15,
    "decay": -10,
}
QUIET_PERIOD = timedelta(days=30)
MIN_SCORE = 0
MAX_WEIGHT = 1000
RULE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
ENGAGEMENT = ("delivered", "clicked", "replied", "intent", "completed")


def weight_problems(weights: Mapping[str, int], score_events: Set[str]) -> list[tuple[str, str]]:
    """(rule, what is wrong) for each weight a tenant may not set."""
    problems = []
    for rule, points in weights.items():
        if not re.match(RULE_PATTERN, rule):
            problems.append((rule, "a rule name is lower case, e.g. 'intent'"))
        elif rule not in DEFAULT_WEIGHTS and rule not in score_events:
            known = ", ".join(sorted(score_events)) or "none yet"
            problems.append((rule, f"no rule or score event is called {rule!r}: the rules are "
                                   f"{', '.join(DEFAULT_WEIGHTS)}; score events of the tenant's flows "
                                   f"and campaigns: {known}"))
        elif abs(points) > MAX_WEIGHT:
            problems.append((rule, f"at most {MAX_WEIGHT} points either way"))
        elif rule == "decay" and points > 0:
            problems.append((rule, "decay takes points away: 0 or less"))
        elif rule in ENGAGEMENT and points < 0:
            problems.append((rule, f"{rule} is engagement and gives points: 0 or more"))
    return problems


def weights_for(overrides: Mapping[str, int] | None) -> dict[str, int]:
    return {**DEFAULT_WEIGHTS, **(overrides or {})}


def points(rule: str, weights: Mapping[str, int]) -> int:
    return int(weights.get(rule, 0))


@dataclass(frozen=True)
class Change:
    delta: int  # what was applied after the floor
    score_after: int


def apply_points(score: int, nominal: int) -> Change:
    after = max(MIN_SCORE, score + nominal)
    return Change(delta=after - score, score_after=after)


def decay_anchor(first_seen_at: datetime, last_interaction_at: datetime | None) -> datetime:
    """Quiet time counts from the last reply or click, or from first sight if there was none."""
    return last_interaction_at or first_seen_at


def next_decay_at(anchor: datetime, decays_applied: int) -> datetime:
    return anchor + QUIET_PERIOD * (decays_applied + 1)


def decays_due(anchor: datetime, decays_applied: int, now: datetime) -> list[datetime]:
    """When each decay not yet applied fell due: one per full quiet period since the anchor.
    Running again with the same state and `now` yields nothing new (the caller stores the count)."""
    periods = int((now - anchor) / QUIET_PERIOD) if now >= anchor else 0
    return [anchor + QUIET_PERIOD * k for k in range(decays_applied + 1, periods + 1)]


def decay_ref(anchor: datetime, k_at: datetime) -> str:
    """Idempotency key of one decay: the quiet period it ends."""
    return f"{anchor.isoformat()}+{k_at.isoformat()}"
