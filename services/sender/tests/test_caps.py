"""Frequency caps: rolling day and week counts against the tenant's caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.sender.caps import Caps, over_cap, since

CASES = [
    ("no caps", Caps(), 50, 500, None),
    ("under the daily cap", Caps(per_day=3), 2, 2, None),
    ("at the daily cap", Caps(per_day=3), 3, 3, "in the last 24 hours (cap 3)"),
    ("under both", Caps(per_day=3, per_week=10), 1, 9, None),
    ("at the weekly cap", Caps(per_day=3, per_week=10), 1, 10, "in the last 7 days (cap 10)"),
    ("weekly only", Caps(per_week=1), 0, 1, "in the last 7 days (cap 1)"),
]


@pytest.mark.parametrize("caps, day, week, reason", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_over_cap(caps, day, week, reason):
    got = over_cap(day, week, caps)
    assert (got is None) if reason is None else (reason in got)


def test_windows_roll_rather_than_follow_calendar_days():
    now = datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    assert since(now) == (now - timedelta(hours=24), now - timedelta(days=7))


def test_a_rolling_limit_frees_when_the_oldest_of_the_last_n_is_a_period_old():
    from services.sender.caps import frees_at

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    sends = [now - timedelta(hours=h) for h in (30, 20, 5, 1)]  # the 30-hour-old one no longer counts
    assert frees_at(sends, now, 3) == now + timedelta(hours=4)  # when the 20-hour-old one is 24
    assert frees_at(sends, now, 4) is None
    assert frees_at([now - timedelta(hours=24)] * 3, now, 3) is None  # exactly 24 hours: gone
