"""What the chaos run counts as a failure and how it measures: each rule of `judge` catches its
own kind of defect, reply latency leaves out what overlaps a fault window, a service that exits
on its own is recorded and started again, and a replica's work is counted from its own log."""

from __future__ import annotations

import asyncio
import json
import math
import sys

import pytest

from bench.replies import out_of_order
from libs.common.testing.app import eventually
from tests.chaos import scenario
from tests.chaos.carrier import Attempt, Message
from tests.chaos.scenario import (
    ExitWatch,
    Fault,
    Plan,
    Run,
    by_phone,
    describe,
    figures,
    judge,
    logged_work,
    reply_latencies,
    report,
)


def msg(mid: str, *statuses: str, at: float = 100.0) -> Message:
    return Message(mid, "+14155550000", [Attempt(at + i, s, at + i + 0.1) for i, s in enumerate(statuses)])


def clean_run() -> Run:
    return Run(messages=[msg("a", "200"), msg("b", "503", "503", "200")],
               replies={"a": [101.0], "b": [104.0]}, faults=[Fault("kill -9 router", 50.0,
                                                                   "router", 4.0, 60.0)])


def test_a_run_where_each_accepted_message_got_one_reply_and_only_2xx_or_503_passes():
    assert judge(clean_run()).failures == []
    assert "PASS" in report(clean_run())


def test_replies_in_the_phones_order_by_replicas_that_each_worked_pass():
    run = clean_run()  # "a" then "b", from one phone
    run.order, run.work = {"a": 7, "b": 9}, {"router-1": 3, "router-2": 1}
    assert judge(run).failures == []


def add(run: Run, message: Message, replied: bool = True) -> None:
    run.messages.append(message)
    if replied:
        run.replies[message.mid] = [200.0]


@pytest.mark.parametrize(("change", "rules"), [
    (lambda r: r.replies.pop("b"), {"accepted without a reply"}),
    (lambda r: r.replies["a"].append(102.0), {"replied more than once"}),
    (lambda r: add(r, msg("c", "503"), replied=False), {"messages never accepted"}),
    (lambda r: add(r, msg("c", "503")), {"messages never accepted", "replied although never accepted"}),
    (lambda r: add(r, msg("c", "422"), replied=False),
     {"messages never accepted", "answers other than 2xx or 503"}),
    (lambda r: add(r, msg("c", "timeout", "200")), {"answers other than 2xx or 503"}),
    (lambda r: add(r, msg("c", "500", "200")), {"answers other than 2xx or 503"}),
    (lambda r: add(r, msg("c", "error ConnectError", "200")), {"answers other than 2xx or 503"}),
    (lambda r: r.exits.append("sender (pid 7) exited with status 3 at +40.0 s"),
     {"services that exited other than by a kill"}),
    (lambda r: r.faults.append(Fault("kill -9 kafka", 70.0, error="ingress not ready after 180 s")),
     {"faults the stack did not recover from"}),
    (lambda r: r.order.update(a=9, b=7), {"replies out of the subscriber's order"}),
    (lambda r: r.work.update({"sender-1": 40, "sender-2": 0}), {"replicas that handled nothing"}),
])
def test_each_kind_of_defect_fails_the_run(change, rules):
    broken = clean_run()
    change(broken)
    failures = judge(broken).failures
    assert {f.split(" (")[0] for f in failures} == rules, failures
    assert all(f"FAIL: {rule}" in report(broken) for rule in rules)


def test_reply_latency_counts_from_the_accepted_try_and_leaves_out_messages_in_a_fault_window():
    run = Run(messages=[msg("before", "200", at=10.0), msg("across", "503", "200", at=48.0),
                        msg("after", "200", at=70.0), msg("unanswered", "200", at=80.0)],
              replies={"before": [10.5], "across": [62.0], "after": [70.25]},
              faults=[Fault("kill -9 kafka", 50.0, "kafka", 12.0, 60.0)])
    assert reply_latencies(run) == [0.5, 0.25]
    assert sorted(reply_latencies(run, outside=False)) == [0.25, 0.5, 13.0]  # accepted at 49


def test_a_fault_never_recovered_from_stays_open_to_the_end():
    fault = Fault("kill -9 kafka", 50.0, error="not ready")
    assert fault.window == (50.0, math.inf)
    run = Run(messages=[msg("late", "200", at=500.0)], replies={"late": [501.0]}, faults=[fault])
    assert reply_latencies(run) == []


def test_the_figures_count_answers_by_kind():
    run = clean_run()
    run.messages.append(msg("c", "timeout", "error ReadError", "500", "200"))
    run.replies["c"] = [110.0]
    got = figures(run)
    assert (got["messages"], got["accepted"], got["lost"], got["duplicated"]) == (3, 3, 0, 0)
    assert (got["503s"], got["messages that saw a 503"], got["timeouts"], got["connection errors"],
            got["other non-2xx"]) == (2, 1, 1, 1, 1)


def test_a_plan_names_only_faults_it_knows():
    with pytest.raises(ValueError, match="ingress"):
        Plan(faults=("router", "ingress"))


class FakeStack:
    """The part of bench.stack.Stack ExitWatch uses, over real short-lived processes."""

    def __init__(self) -> None:
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.spawned: list[str] = []

    async def spawn(self, name: str, code: int = 0, linger_s: float = 30.0) -> None:
        self.spawned.append(name)
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-c", f"import sys, time; time.sleep({linger_s}); sys.exit({code})")

    async def stop(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def test_a_service_that_exits_on_its_own_is_recorded_and_started_again(monkeypatch):
    monkeypatch.setattr(scenario, "REVIVE_AFTER_S", 0.0)
    stack = FakeStack()
    await stack.spawn("router", code=3, linger_s=0.0)
    await stack.spawn("sender")
    crashed = stack.procs["router"]
    try:
        with ExitWatch(stack, origin=0.0) as watch:
            async def revived() -> bool:
                return stack.procs["router"] is not crashed

            await eventually(revived)
        assert len(watch.exits) == 1 and watch.exits[0].startswith(f"router (pid {crashed.pid}) exited "
                                                                   "with status 3")
        assert stack.spawned == ["router", "sender", "router"]
    finally:
        await stack.stop()


def test_a_broker_fault_may_restart_a_service_while_the_broker_is_away():
    assert describe("kafka+sender") == "kill -9 kafka, kill -9 sender and start it meanwhile"
    assert describe("kafka-stop") == "stop kafka"
    assert Plan(faults=("kafka-stop+router", "postgres")).faults == ("kafka-stop+router", "postgres")


def test_a_phones_replies_out_of_its_order_are_named_and_unanswered_or_refused_messages_left_out():
    messages = [Message("p1", "+1", [Attempt(1.0, "200")]), Message("q1", "+2", [Attempt(1.0, "200")]),
                Message("p2", "+1", [Attempt(2.0, "422")]), Message("p3", "+1", [Attempt(3.0, "200")]),
                Message("q2", "+2", [Attempt(2.0, "200")]), Message("q3", "+2", [Attempt(3.0, "200")])]
    sent = by_phone(messages)
    assert sent == {"+1": ["p1", "p3"], "+2": ["q1", "q2", "q3"]}
    assert out_of_order(sent, {"p1": 1, "p3": 4, "q1": 2, "q3": 3}) == []  # q2 unanswered: left out
    assert out_of_order(sent, {"p1": 5, "p3": 4, "q1": 2, "q2": 6, "q3": 3}) == [
        "+1: p3 answered before p1", "+2: q3 answered before q2"]


def test_a_plan_with_replicas_names_its_faults_by_replica():
    plan = Plan(faults=("router-2", "kafka-stop+sender-1", "segmentation"),
                replicas={"router": 2, "sender": 2})
    assert "router" not in plan.known_faults and "sender-3" not in plan.known_faults
    with pytest.raises(ValueError, match="router"):
        Plan(faults=("router",), replicas={"router": 2})
    with pytest.raises(ValueError, match="ingress"):
        Plan(faults=(), replicas={"ingress": 2})


def test_a_replicas_work_is_counted_from_its_own_log_over_its_restarts(tmp_path):
    def line(event: str, **more: object) -> str:
        return json.dumps({"event": event, "level": "info", **more})

    (tmp_path / "router-1.log").write_text("\n".join([
        line("decided", stage="compliance"), "Traceback (most recent call last):",
        line("partitions_assigned"), line("decided", stage="compliance"), "{not json",
        line("decided")]) + "\n")
    (tmp_path / "router-2.log").write_text(line("partitions_assigned") + "\n")
    (tmp_path / "sender-1.log").write_text(line("send_sent") + "\n" + line("send_skipped") + "\n")
    assert logged_work(tmp_path, ["router-1", "router-2", "sender-1", "sender-2"]) == {
        "router-1": 3, "router-2": 0, "sender-1": 1, "sender-2": 0}
