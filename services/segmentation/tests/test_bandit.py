"""The Beta–Bernoulli / Thompson sampling math in libs/common/bandit.py, and the promotion rule
the experiment job applies: a seeded generator makes every run identical."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from libs.common.bandit import ArmStats, choose_variant, interval95, prob_best, should_promote
from services.segmentation import experiments

TRUE_RATES = {"reply-yes": 0.05, "reply-1": 0.08, "reply-go": 0.12}


def simulate(sends: int, seed: int, check_every: int = 250) -> tuple[dict[str, list[int]], str | None]:
    """The router's side (choose a variant per send) against simulated subscribers, with the
    promotion job's decision checked periodically, as in production."""
    rng, world = random.Random(seed), random.Random(seed + 10_000)
    stats = {key: [0, 0] for key in TRUE_RATES}
    winner = None
    for n in range(1, sends + 1):
        key = choose_variant([ArmStats(k, *stats[k]) for k in TRUE_RATES], rng, winner=winner)
        stats[key][0] += 1
        stats[key][1] += world.random() < TRUE_RATES[key]
        if winner is None and n % check_every == 0:
            winner = experiments.auto_winner("exp-1", [ArmStats(k, *stats[k]) for k in TRUE_RATES],
                                             threshold=0.95, min_sends=30)
    return stats, winner


def test_thompson_sends_most_traffic_to_the_12_percent_variant_and_promotes_it():
    stats, winner = simulate(5_000, seed=7)
    sends = {key: s[0] for key, s in stats.items()}
    assert sum(sends.values()) == 5_000
    assert sends["reply-go"] > 2_500, sends
    assert sends["reply-go"] > sends["reply-1"] > 0 and sends["reply-yes"] > 0  # all were tried
    assert winner == "reply-go"


def test_a_simulation_with_the_same_seed_is_identical():
    assert simulate(600, seed=3) == simulate(600, seed=3)


def test_a_promoted_winner_takes_all_traffic():
    arms = [ArmStats("a", 100, 50), ArmStats("b", 100, 1)]
    rng = random.Random(1)
    assert {choose_variant(arms, rng, winner="b") for _ in range(50)} == {"b"}


def test_fixed_allocation_splits_by_weight():
    arms = [ArmStats("a", weight=3), ArmStats("b", weight=1)]
    rng = random.Random(5)
    picks = Counter(choose_variant(arms, rng, allocation="fixed") for _ in range(4_000))
    assert 2_850 < picks["a"] < 3_150  # 3:1, within a few standard deviations


def test_prob_best_sums_to_one_and_follows_the_evidence():
    probs = prob_best([ArmStats("a", 1000, 50), ArmStats("b", 1000, 120)], random.Random(2), 5_000)
    assert sum(probs.values()) == pytest.approx(1.0)
    assert probs["b"] > 0.999
    even = prob_best([ArmStats("a", 10, 5), ArmStats("b", 10, 5)], random.Random(2), 5_000)
    assert even["a"] == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("successes, trials, low, high", [
    (10, 100, 0.0552, 0.1744),  # Wilson score interval, computed by hand
    (0, 20, 0.0, 0.1611),
    (20, 20, 0.8389, 1.0),
    (0, 0, 0.0, 1.0),
])
def test_interval95_is_the_wilson_score_interval(successes, trials, low, high):
    lo, hi = interval95(successes, trials)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_no_promotion_before_every_arm_has_its_minimum_sends_or_without_a_clear_leader():
    rng = random.Random(0)
    clear = [ArmStats("a", 500, 20), ArmStats("b", 500, 80)]
    assert should_promote(clear, rng, threshold=0.95, min_trials=30) == "b"
    assert should_promote([ArmStats("a", 20, 0), ArmStats("b", 500, 80)], rng, min_trials=30) is None
    close = [ArmStats("a", 100, 10), ArmStats("b", 100, 11)]
    assert should_promote(close, rng, threshold=0.95, min_trials=30) is None


@pytest.mark.parametrize("arms", [[], [ArmStats("a", 1, 2)], [ArmStats("a", -1, 0)]],
                         ids=["no arms", "more successes than trials", "negative trials"])
def test_impossible_arms_are_refused(arms):
    with pytest.raises(ValueError):
        choose_variant(arms, random.Random(0))
