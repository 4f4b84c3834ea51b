"""The bus contract: one suite, run on the in-memory bus and on Kafka, proving the same semantics."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from libs.common.bus import DLQ_SUFFIX, InvalidEvent, make_bus
from libs.common.events import sms_inbound
from libs.common.events.sms_inbound import InboundSms
from libs.common.testing.app import eventually

TOPIC = sms_inbound.TOPIC


def inbound(n: int, phone_suffix: int) -> InboundSms:
    return InboundSms(tenant_id="t1", phone=f"+1555555{phone_suffix:04d}", to="+15555550000",
                      body=f"{n}", carrier="simulator", carrier_message_id=str(n))


@pytest.fixture
async def bus(settings):
    bus = make_bus(settings.model_copy(update={"bus_max_tries": 3}))
    await bus.start()
    yield bus
    await bus.stop()


async def publish_all(bus, events):
    for e in events:
        await bus.emit(e)


async def wait_assigned(*consumers):
    await eventually(lambda: _async(all(c.assignment() for c in consumers)))


async def _async(value):
    return value


async def test_per_key_order_is_kept_across_1000_events(bus):
    seen: dict[str, list[int]] = defaultdict(list)

    async def handler(event):
        seen[event.phone].append(int(event.body))
        await asyncio.sleep(0)  # let other partitions interleave

    consumer = await bus.consume(TOPIC, "order", handler)
    await wait_assigned(consumer)
    events = [inbound(n, n % 10) for n in range(1000)]
    await publish_all(bus, events)
    await eventually(lambda: _async(sum(len(v) for v in seen.values()) >= 1000))
    for phone, numbers in seen.items():
        expected = [n for n in range(1000) if f"+1555555{n % 10:04d}" == phone]
        assert numbers == expected, f"{phone} out of order"


async def test_two_consumers_in_one_group_split_the_work_and_handle_each_event_once(bus):
    handled: dict[str, list[int]] = {"a": [], "b": []}

    def handler_for(name):
        async def handler(event):
            handled[name].append(int(event.body))
        return handler

    first = await bus.consume(TOPIC, "split", handler_for("a"))
    second = await bus.consume(TOPIC, "split", handler_for("b"))
    await eventually(lambda: _async(
        first.assignment() and second.assignment()
        and len(first.assignment() | second.assignment()) == bus.partitions
        and not first.assignment() & second.assignment()))
    await publish_all(bus, [inbound(n, n % 40) for n in range(400)])
    await eventually(lambda: _async(len(handled["a"]) + len(handled["b"]) >= 400))
    await asyncio.sleep(0.5)  # any duplicate would arrive now
    assert sorted(handled["a"] + handled["b"]) == list(range(400))
    assert handled["a"] and handled["b"], "both members must get partitions with work"


async def test_a_killed_consumer_loses_nothing_its_uncommitted_event_comes_again(bus):
    stuck = asyncio.Event()
    first_run: list[int] = []

    async def blocking(event):
        n = int(event.body)
        if n == 50:
            stuck.set()
            await asyncio.Event().wait()  # hangs, like a process about to crash
        first_run.append(n)

    events = [inbound(n, 7) for n in range(100)]  # one key: one partition, strict order
    consumer = await bus.consume(TOPIC, "restart", blocking)
    await publish_all(bus, events)
    await asyncio.wait_for(stuck.wait(), 30)
    await consumer.kill()
    assert 50 not in first_run and max(first_run) < 50

    second_run: list[int] = []

    async def healthy(event):
        second_run.append(int(event.body))

    await bus.consume(TOPIC, "restart", healthy)
    await eventually(lambda: _async(second_run and second_run[-1] == 99))
    assert second_run[0] <= 50, "the uncommitted event was not delivered again"
    assert set(first_run) | set(second_run) == set(range(100))
    assert second_run == sorted(second_run)


async def test_a_poison_event_goes_to_the_dead_letter_topic_and_the_partition_moves_on(bus):
    handled: list[str] = []
    dead: list = []

    async def handler(event):
        if event.body == "poison":
            raise RuntimeError("cannot handle this one")
        if event.body == "invalid":
            raise InvalidEvent("never valid")
        handled.append(event.body)

    async def dlq_handler(record):
        dead.append(record)

    await bus.consume(TOPIC, "dlq-test", handler)
    await bus.consume(TOPIC + DLQ_SUFFIX, "dlq-reader", dlq_handler)
    phone = "+15555550123"
    key = f"t1:{phone}"
    mk = lambda body, n: InboundSms(tenant_id="t1", phone=phone, to="+15555550000", body=body,  # noqa: E731
                                    carrier="simulator", carrier_message_id=str(n))
    await bus.emit(mk("before", 1))
    await bus.emit(mk("poison", 2))
    await bus.publish_raw(TOPIC, key, b"{not json")
    await bus.emit(mk("invalid", 3))
    await bus.emit(mk("after", 4))
    await eventually(lambda: _async(len(dead) == 3 and handled == ["before", "after"]))
    reasons = [r.headers["parley-error"] for r in dead]
    assert "cannot handle this one" in reasons[0] and dead[0].headers["parley-tries"] == "3"
    assert reasons[1].startswith("undecodable") and dead[1].value == b"{not json"
    assert reasons[2].startswith("invalid")
    assert all(r.key == key and r.headers["parley-group"] == "dlq-test" for r in dead)


async def test_a_handler_that_fails_then_succeeds_is_retried_not_dead_lettered(bus):
    attempts: list[str] = []
    dead: list = []

    async def flaky(event):
        attempts.append(event.body)
        if len(attempts) < 3:
            raise RuntimeError("transient")

    async def dlq_handler(record):
        dead.append(record)

    await bus.consume(TOPIC, "flaky", flaky)
    await bus.consume(TOPIC + DLQ_SUFFIX, "flaky-dlq", dlq_handler)
    await bus.emit(inbound(1, 1))
    await bus.emit(inbound(2, 1))
    await eventually(lambda: _async(attempts == ["1", "1", "1", "2"]))
    await asyncio.sleep(0.3)
    assert dead == []


async def test_handler_output_is_published_before_the_input_is_committed(bus):
    from libs.common.events.sms_outbound import SendSms

    replies: list[SendSms] = []

    async def router(event):
        return [SendSms(tenant_id=event.tenant_id, phone=event.phone, body=f"re: {event.body}",
                        action_id=f"a{event.body}")]

    async def sender(cmd):
        replies.append(cmd)

    await bus.consume(TOPIC, "router", router)
    await bus.consume(SendSms.TOPIC, "sender", sender)
    await publish_all(bus, [inbound(n, 3) for n in range(5)])
    await eventually(lambda: _async(len(replies) == 5))
    assert [r.body for r in replies] == [f"re: {n}" for n in range(5)]


async def test_a_batch_handler_gets_waiting_events_in_runs_in_order_each_once(bus):
    from libs.common.bus.base import MAX_BATCH
    from libs.common.events.sms_outbound import SendSms

    runs: list[list[int]] = []
    singles: list[int] = []
    replies: list[SendSms] = []

    async def one(event):
        singles.append(int(event.body))

    async def many(events):
        runs.append([int(e.body) for e in events])
        return [SendSms(tenant_id=e.tenant_id, phone=e.phone, body=f"re: {e.body}",
                        action_id=f"b{e.body}") for e in events]

    async def sender(cmd):
        replies.append(cmd)

    await publish_all(bus, [inbound(n, 11) for n in range(450)])  # one key: one partition, waiting
    await bus.consume(SendSms.TOPIC, "batch-sender", sender)
    await bus.consume(TOPIC, "batch", one, batch_handler=many)
    await eventually(lambda: _async(len(replies) == 450))
    handled = [n for run in runs for n in run] + singles
    assert sorted(handled) == list(range(450)) and [n for run in runs for n in run] == sorted(
        n for run in runs for n in run), "every event once, in order"
    assert max(len(r) for r in runs) > 1 and all(len(r) <= MAX_BATCH for r in runs)
    assert [r.body for r in replies] == [f"re: {n}" for n in range(450)], "outputs published in order"


async def test_a_failing_batch_is_replayed_one_by_one_and_only_the_poison_event_dead_letters(bus):
    batched: list[int] = []
    singles: list[int] = []
    dead: list = []

    async def one(event):
        if event.body == "25":
            raise RuntimeError("poison")
        singles.append(int(event.body))

    async def many(events):
        if any(e.body == "25" for e in events):
            raise RuntimeError("poison somewhere in this run")
        batched.extend(int(e.body) for e in events)

    async def dlq_handler(record):
        dead.append(record)

    await publish_all(bus, [inbound(n, 12) for n in range(50)])
    await bus.consume(TOPIC + DLQ_SUFFIX, "replay-dlq", dlq_handler)
    await bus.consume(TOPIC, "replay", one, batch_handler=many)
    await eventually(lambda: _async(len(dead) == 1 and len(batched) + len(singles) == 49))
    await asyncio.sleep(0.3)  # any duplicate would arrive now
    assert sorted(batched + singles) == [n for n in range(50) if n != 25]
    assert 24 in singles and 26 in singles, "the failed run went through the single handler"
    assert "poison" in dead[0].headers["parley-error"] and dead[0].headers["parley-tries"] == "3"


async def test_emit_many_publishes_every_event_in_order_per_key(bus):
    seen: dict[str, list[int]] = defaultdict(list)

    async def handler(event):
        seen[event.phone].append(int(event.body))

    await bus.consume(TOPIC, "many", handler)
    await bus.emit_many([inbound(n, 20 + n % 3) for n in range(300)])
    await eventually(lambda: _async(sum(len(v) for v in seen.values()) >= 300))
    for k in range(3):
        assert seen[f"+1555555{20 + k:04d}"] == [n for n in range(300) if n % 3 == k]
