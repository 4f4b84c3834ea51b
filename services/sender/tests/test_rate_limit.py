"""The per-number token bucket (GCRA form): exact slots, never more than the rate in any second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.common.config import Settings
from services.sender.rate_limit import rate_for, reserve

T0 = datetime(2026, 11, 20, 15, tzinfo=UTC)


def slots(n: int, rate: float, cost: int = 1, now: datetime = T0) -> list[datetime]:
    tat, out = None, []
    for _ in range(n):
        r = reserve(tat, now, rate, cost)
        tat = r.tat
        out.append(r.send_at)
    return out


def most_in_any_second(times: list[datetime]) -> int:
    return max(sum(1 for t in times if start <= t < start + timedelta(seconds=1)) for start in times)


def test_fifty_messages_at_ten_per_second_take_five_seconds():
    times = slots(50, 10)
    assert times[0] == T0 and times[-1] - times[0] == timedelta(seconds=4.9)
    assert most_in_any_second(times) == 10


def test_multi_segment_messages_take_one_slot_per_segment():
    times = slots(3, 10, cost=3)
    assert [t - T0 for t in times] == [timedelta(0), timedelta(seconds=0.3), timedelta(seconds=0.6)]


def test_an_idle_bucket_does_not_bank_more_than_one_send():
    r = reserve(T0 - timedelta(hours=1), T0, 10)
    assert r.send_at == T0 and r.tat == T0 + timedelta(seconds=0.1)
    assert reserve(r.tat, T0, 10).send_at == T0 + timedelta(seconds=0.1)


def test_a_burst_allowance_lets_the_first_messages_go_together():
    tat, sent = None, []
    for _ in range(4):
        r = reserve(tat, T0, 10, burst=3)
        tat = r.tat
        sent.append(r.send_at)
    assert sent == [T0, T0, T0, T0 + timedelta(seconds=0.1)]


def test_rates_come_from_the_number_then_its_type_and_the_simulator_is_unlimited():
    s = Settings(rate_long_code=1, rate_toll_free=3, rate_short_code=100)
    assert rate_for(s, "twilio", "long_code", None) == 1
    assert rate_for(s, "twilio", "toll_free", None) == 3
    assert rate_for(s, "twilio", "short_code", None) == 100
    assert rate_for(s, "twilio", "long_code", 25) == 25
    assert rate_for(s, "simulator", "long_code", None) is None
    assert rate_for(s, "simulator", "long_code", 10) == 10
    assert rate_for(Settings(rate_limits=False), "twilio", "long_code", 10) is None
    assert rate_for(Settings(rate_long_code=0), "twilio", "long_code", None) is None
