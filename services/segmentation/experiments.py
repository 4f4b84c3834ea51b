"""A/B tests of a prompt: which goal counts as success, the report, and when to promote a winner.
Pure; the math is `libs.common.bandit`.

An experiment is bound to a flow step (`flow_id` + `step`), or to a campaign's single message
(`campaign_id`, no flow). The router picks the variant when it sends that prompt and marks that
one message with the experiment's id; the conversation carries the variant on, so later messages
(an option's reply, a fallback, a nudge) split metrics by it but are no sends. A send is a
trial; its success is the goal reached on that prompt, once: a reply to it (the reply's last
message is the prompt), a keyword matched while the conversation was at its step, a click on one
of its links.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from libs.common import bandit, definitions, placeholders

Goal = Literal["reply", "keyword", "click"]
GOALS: tuple[str, ...] = ("reply", "keyword", "click")
LIVE_STATES = ("running", "promoted")
REPORT_DRAWS = 20_000
PROMOTION_DRAWS = 10_000


@dataclass(frozen=True)
class Scope:
    flow_id: str | None
    step: str | None
    campaign_id: str | None


def is_send(scope: Scope, experiment_id: str, marked: str | None, flow_id: str | None,
            campaign_id: str | None) -> bool:
    """Is a message (with the variant of an arm) a send of this experiment? A step's experiment
    counts the prompts the router marked with its id; a campaign's, its single message (that
    campaign, no flow)."""
    if scope.flow_id:
        return marked == experiment_id
    return flow_id is None and scope.campaign_id is not None and scope.campaign_id == campaign_id


def target_problems(flow_id: str | None, step: str | None, prompts: Sequence[str],
                    flow: Mapping[str, Any] | None) -> list[tuple[tuple, str]]:
    """(location, what is wrong) for an experiment's target as the router stored it: the flow
    exists, the step is one of its steps and sends a prompt, and each variant's prompt uses
    placeholders that step's texts may use (a campaign's prompts: links only, no variables)."""
    if flow_id is None:
        variables: frozenset[str] = frozenset()
    elif flow is None:
        return [(("flow_id",), f"unknown flow {flow_id!r}")]
    else:
        steps = flow.get("steps") if isinstance(flow.get("steps"), Mapping) else {}
        if step not in steps:
            return [(("step",), f"flow {flow_id!r} has no step {step!r} (its steps: "
                                f"{', '.join(sorted(map(str, steps)))})")]
        if not (steps[step] or {}).get("prompt"):
            return [(("step",), f"step {step!r} sends no prompt: there is nothing to vary")]
        variables = definitions.variables(flow)
    problems = []
    for i, prompt in enumerate(prompts):
        try:
            placeholders.check(prompt, variables)
        except placeholders.BadPlaceholder as exc:
            problems.append((("variants", i, "prompt"), str(exc)))
    return problems


def seeded_rng(experiment_id: str, trials: int) -> random.Random:
    """The same stats give the same report: the seed depends on the experiment and its trials."""
    return random.Random(zlib.crc32(f"{experiment_id}:{trials}".encode()))


@dataclass(frozen=True)
class ArmReport:
    key: str
    sends: int
    successes: int
    rate: float | None
    interval95: tuple[float, float]
    prob_best: float


def report(experiment_id: str, arms: Sequence[bandit.ArmStats],
           draws: int = REPORT_DRAWS) -> list[ArmReport]:
    rng = seeded_rng(experiment_id, sum(a.trials for a in arms))
    probs = bandit.prob_best(arms, rng, draws)
    return [ArmReport(a.key, a.trials, a.successes, a.rate,
                      bandit.interval95(a.successes, a.trials), probs[a.key]) for a in arms]


def auto_winner(experiment_id: str, arms: Sequence[bandit.ArmStats], threshold: float,
                min_sends: int, draws: int = PROMOTION_DRAWS) -> str | None:
    """The arm to promote automatically now, if the evidence is there."""
    rng = seeded_rng(experiment_id, sum(a.trials for a in arms))
    return bandit.should_promote(arms, rng, threshold=threshold, min_trials=min_sends, draws=draws)


def goal_reached(goal: str, event_kind: str) -> bool:
    return goal == event_kind
