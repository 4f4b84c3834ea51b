"""What a webhook does with a dedup key it finds already claimed, as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ingress import dedup

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STALE = dedup.stale_after(1.0)  # a 1 s publish timeout plus the margin


@pytest.mark.parametrize("state, age, verdict", [
    (dedup.ACCEPTED, timedelta(0), "duplicate"),
    (dedup.ACCEPTED, timedelta(days=3), "duplicate"),
    (dedup.PENDING, timedelta(0), "in_flight"),
    (dedup.PENDING, STALE - timedelta(milliseconds=1), "in_flight"),
    (dedup.PENDING, STALE, "take_over"),
    (dedup.PENDING, timedelta(hours=1), "take_over"),
    (dedup.FAILED, timedelta(0), "take_over"),
], ids=["accepted just now", "accepted long ago", "pending just now", "pending within the window",
        "pending at the window's end", "pending long ago", "failed just now"])
def test_a_claimed_key_is_a_duplicate_in_flight_or_taken_over(state, age, verdict):
    assert dedup.verdict(state, NOW - age, NOW, STALE) == verdict


def test_the_window_outlasts_the_publish_timeout():
    assert dedup.stale_after(2.0) == timedelta(seconds=2.0 + dedup.STALE_MARGIN_S)
