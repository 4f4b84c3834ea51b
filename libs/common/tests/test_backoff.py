"""Capped exponential back-off with equal jitter."""

from __future__ import annotations

import pytest

from libs.common.backoff import Backoff


@pytest.mark.parametrize("attempt, low, high", [(1, 0.125, 0.25), (2, 0.25, 0.5), (3, 0.5, 1.0),
                                                (5, 2.0, 4.0), (6, 2.5, 5.0), (1000, 2.5, 5.0)])
def test_the_pause_doubles_up_to_the_cap_and_keeps_at_least_half_its_step(attempt, low, high):
    policy = Backoff(base_s=0.25, cap_s=5.0)
    assert policy.delay(attempt, rand=lambda: 0.0) == low
    assert policy.delay(attempt, rand=lambda: 1.0) == high
    assert low < policy.delay(attempt, rand=lambda: 0.5) < high


def test_replicas_that_failed_together_do_not_retry_in_step():
    pauses = {Backoff().delay(4) for _ in range(50)}
    assert len(pauses) > 40
    assert all(1.0 <= p <= 2.0 for p in pauses)


def test_an_attempt_below_one_is_treated_as_the_first():
    assert Backoff().delay(0, rand=lambda: 0.0) == Backoff().delay(1, rand=lambda: 0.0)
