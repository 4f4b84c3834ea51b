"""Beta–Bernoulli arms for A/B tests of a prompt: Thompson sampling, probability each arm is best,
and a 95% interval for a rate. Pure: every random choice comes from the `random.Random` passed in,
so a seeded generator makes a run reproducible; no I/O.

Each arm's goal (a reply, a keyword match, a click) is a Bernoulli trial per send, with a uniform
Beta(1, 1) prior, so its posterior is Beta(1 + successes, 1 + failures). Thompson sampling draws
one rate from each posterior and sends the arm with the highest draw: traffic drifts to the arm
most likely best, while uncertain arms still get tried. See Russo et al., "A Tutorial on Thompson
Sampling" (2018), §3.

The router uses it when it sends an experiment's prompt, with the arms read from the
`experiment_variant` table (sends, successes, weight) and the `experiment` row (allocation,
winner):

    arms = [ArmStats(v.key, v.sends, v.successes, v.weight) for v in variants]
    key = choose_variant(arms, rng, allocation=exp.allocation, winner=exp.winner)
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Allocation = Literal["fixed", "thompson"]

_Z95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class ArmStats:
    key: str
    trials: int = 0
    successes: int = 0
    weight: float = 1.0

    @property
    def failures(self) -> int:
        return max(self.trials - self.successes, 0)

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None


def _check(arms: Sequence[ArmStats]) -> None:
    if not arms:
        raise ValueError("an experiment needs at least one arm")
    for arm in arms:
        if arm.trials < 0 or arm.successes < 0 or arm.successes > arm.trials:
            raise ValueError(f"arm {arm.key!r}: need 0 <= successes <= trials")


def sample_rate(arm: ArmStats, rng: random.Random) -> float:
    """One draw from the arm's posterior Beta(1 + successes, 1 + failures)."""
    return rng.betavariate(1 + arm.successes, 1 + arm.failures)


def choose_variant(arms: Sequence[ArmStats], rng: random.Random, *,
                   allocation: Allocation = "thompson", winner: str | None = None) -> str:
    """The arm to send next. A promoted `winner` takes all traffic; `fixed` splits by weight;
    `thompson` sends the arm whose posterior draw is highest."""
    _check(arms)
    if winner is not None:
        if winner not in {a.key for a in arms}:
            raise ValueError(f"winner {winner!r} is not an arm")
        return winner
    if allocation == "fixed":
        weights = [max(a.weight, 0.0) for a in arms]
        if sum(weights) <= 0:
            raise ValueError("fixed allocation needs a positive weight")
        return rng.choices([a.key for a in arms], weights=weights)[0]
    draws = [(sample_rate(a, rng), a.key) for a in arms]
    return max(draws, key=lambda d: d[0])[1]


def prob_best(arms: Sequence[ArmStats], rng: random.Random, draws: int = 10_000) -> dict[str, float]:
    """Monte Carlo estimate of P(arm has the highest true rate) under the posteriors; sums to 1."""
    _check(arms)
    wins = dict.fromkeys((a.key for a in arms), 0)
    for _ in range(draws):
        best = max(arms, key=lambda a: sample_rate(a, rng))
        wins[best.key] += 1
    return {key: n / draws for key, n in wins.items()}


def interval95(successes: int, trials: int) -> tuple[float, float]:
    """Wilson score interval for a rate: stays inside [0, 1] and is sensible for small counts
    (unlike the normal approximation). (0, 1) when nothing was tried."""
    if trials <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= trials:
        raise ValueError("need 0 <= successes <= trials")
    p = successes / trials
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = _Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return (max(0.0, centre - half), min(1.0, centre + half))


def should_promote(arms: Sequence[ArmStats], rng: random.Random, *, threshold: float = 0.95,
                   min_trials: int = 30, draws: int = 10_000) -> str | None:
    """The arm to promote once every arm has `min_trials` sends and one arm's probability of being
    best reaches `threshold`; None while the evidence is not there yet."""
    _check(arms)
    if len(arms) < 2 or any(a.trials < min_trials for a in arms):
        return None
    probs = prob_best(arms, rng, draws)
    key, p = max(probs.items(), key=lambda kv: kv[1])
    return key if p >= threshold else None
