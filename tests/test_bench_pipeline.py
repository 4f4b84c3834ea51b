"""The pipeline benchmark's arithmetic: latencies from due times, lag, the exactly-once check, the
ramp's verdicts and CPU time from /proc. The benchmark itself runs under `make bench`, not here."""

from __future__ import annotations

import asyncio

import pytest

from bench import common
from bench.loadgen import schedule
from bench.pipeline import (
    Figure,
    Request,
    censored_percentile,
    drained,
    e2e,
    rate_of,
    saturation,
    sustained,
)
from bench.replies import exactly_once, replies_by_message
from bench.stack import group_lag


def req(mid: str, due: float, status: str = "200", late: float = 0.0) -> Request:
    return Request(mid, 1, due, late, 0.01, status)


def test_webhook_to_carrier_latency_counts_from_the_due_time_not_from_when_it_was_written():
    # Written 4 s late (a backlog in the generator), answered at 105: the wait counts.
    requests = [req("a", 100.0, late=4.0), req("b", 101.0)]
    answered, unanswered = e2e(requests, {"a": [105.0], "b": [101.5]}, now=200.0)
    assert answered == [5.0, 0.5]
    assert unanswered == []


def test_an_unanswered_message_counts_with_its_wait_so_far_and_makes_the_percentile_a_lower_bound():
    answered, unanswered = e2e([req("a", 10.0), req("b", 12.0)], {"a": [10.2]}, now=20.0)
    assert unanswered == [8.0]
    assert censored_percentile(answered, unanswered, 100) == Figure(8.0, at_least=True)
    assert censored_percentile(answered, unanswered, 0) == Figure(answered[0], at_least=False)


def test_p99_is_exact_when_fewer_than_one_in_a_hundred_are_unanswered():
    answered = [i / 1000 for i in range(1, 201)]  # 1 … 200 ms
    p99 = censored_percentile(answered, [30.0], 99)
    assert not p99.at_least
    assert p99.value == pytest.approx(0.199)
    assert censored_percentile(answered, [30.0] * 5, 99).at_least


def test_the_first_reply_is_the_one_the_latency_uses_and_replies_without_a_link_are_ignored():
    replies = replies_by_message([("a", 7.0), ("a", 5.0), (None, 1.0), ("b", 2.0)])
    assert replies == {"a": [5.0, 7.0], "b": [2.0]}


def test_lag_counts_uncommitted_records_and_partitions_never_committed_from_zero():
    assert group_lag({0: 10, 1: 5}, {0: 10, 1: 8, 2: 4}) == 0 + 3 + 4
    assert group_lag({0: -1}, {0: 6}) == 6  # no commit yet
    assert group_lag({0: 9}, {0: 7}) == 0  # end offsets read before the commit


def test_exactly_once_sorts_missing_duplicated_and_replies_to_messages_not_accepted():
    replies = {"ok": [1.0], "twice": [1.0, 2.0], "refused": [3.0], "timed-out": [4.0]}
    once = exactly_once(["ok", "twice", "silent"], ["refused"], replies)
    assert once.missing == ["silent"]
    assert once.duplicated == ["twice"]
    assert once.refused_replied == ["refused"]
    assert once.late_accepted == ["timed-out"]
    clean = exactly_once(["ok"], [], {"ok": [1.0]})
    assert not (clean.missing or clean.duplicated or clean.refused_replied or clean.late_accepted)


def test_a_missing_reply_is_lost_only_once_nothing_is_left_on_the_reply_path():
    assert drained({"router.sms.inbound": 0, "sender.sms.outbound": 0, "segmentation.sms.sent": 40},
                   {"sent": 10, "failed": 1})
    assert not drained({"router.sms.inbound": 3}, {"sent": 10})
    assert not drained({}, {"sent": 10, "deferred": 1})


def test_a_ramp_step_is_held_only_with_every_webhook_2xx_and_p99_within_the_limit():
    fast = [req(f"m{i}", 100.0 + i / 100) for i in range(100)]
    replies = {r.mid: [r.due + 0.2] for r in fast}
    assert sustained(fast, replies, now=110.0, limit_s=1.0)
    assert not sustained([*fast[:-1], req("m99", fast[-1].due, "503")], replies, now=110.0, limit_s=1.0)
    slow = {**replies, "m98": [fast[98].due + 3], "m99": [fast[99].due + 3]}
    assert not sustained(fast, slow, now=110.0, limit_s=1.0)
    unanswered = {k: v for k, v in replies.items() if k not in ("m98", "m99")}
    assert not sustained(fast, unanswered, now=fast[-1].due + 1.3, limit_s=1.0)
    assert not sustained([], {}, now=0.0)


def test_saturation_is_the_last_rate_held_before_the_first_miss():
    assert saturation([(50, True), (100, True), (150, False), (200, True)]) == 100
    assert saturation([(50, False)]) is None


def test_the_schedule_keeps_each_steps_rate_and_starts_the_next_step_after_the_previous():
    plan = schedule([(10, 1.0), (20, 0.5)])
    assert [s for s, _, _ in plan] == [0] * 10 + [1] * 10
    assert [round(t, 6) for _, _, t in plan[8:12]] == [0.8, 0.9, 1.0, 1.05]


def test_a_rate_is_the_intervals_over_the_span_of_the_events():
    assert rate_of([3.0, 1.0, 2.0, 1.5, 2.5]) == pytest.approx(2.0)
    assert rate_of([1.0]) == rate_of([]) == 0.0  # every webhook timed out: nothing achieved


def _stat(pid: int, ppid: int, name: str, utime: int, stime: int, cutime: int, cstime: int) -> str:
    rest = [0] * 40
    rest[0:2] = ["S", ppid]
    rest[11:15] = [utime, stime, cutime, cstime]
    return f"{pid} ({name}) " + " ".join(map(str, rest))


def test_cpu_of_a_process_tree_sums_descendants_and_their_reaped_children(tmp_path, monkeypatch):
    tree = {10: (1, "python -m services.router", 100, 20, 30, 0),  # 30: workers it already reaped
            11: (10, "python (worker) x", 50, 5, 0, 0), 12: (11, "child", 10, 0, 0, 0),
            20: (1, "postgres", 7, 0, 0, 0)}
    for pid, (ppid, name, *times) in tree.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(_stat(pid, ppid, name, *times))
    monkeypatch.setattr(common, "PROC", tmp_path)
    monkeypatch.setattr(common, "_TICK", 100)
    cpu = common.tree_cpu_seconds({"router": 10, "pg": 20, "gone": 99, "none": None})
    assert cpu == {"router": pytest.approx(2.15), "pg": pytest.approx(0.07), "gone": None, "none": None}


async def test_an_http_answer_is_read_with_its_status_and_whether_the_server_closes():
    reader = asyncio.StreamReader()
    reader.feed_data(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\nConnection: close\r\n\r\nno"
                     b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert await common.read_response(reader) == (503, True)
    assert await common.read_response(reader) == (200, False)
