"""The in-memory bus keeps only what some group has not yet committed, like Kafka's retention,
so the embedded process does not grow with its history; a late group starts at what is kept."""

from __future__ import annotations

from libs.common.bus.memory import TRIM_EVERY, MemoryBus
from libs.common.events.sms_inbound import InboundSms
from libs.common.testing.app import eventually


def event(n: int) -> InboundSms:
    return InboundSms(tenant_id="t", phone="+15555550100", to="+15555550000", body=str(n),
                      carrier="simulator", carrier_message_id=str(n))


async def _true(value):
    return value


async def test_records_every_group_committed_are_dropped_and_counted_as_published():
    bus = MemoryBus(partitions=1)
    seen: list[str] = []

    async def handler(e):
        seen.append(e.body)

    await bus.consume("sms.inbound", "g", handler)
    total = TRIM_EVERY * 3 + 5
    for n in range(total):
        await bus.emit(event(n))
    await eventually(lambda: _true(len(seen) == total))
    assert bus.published("sms.inbound") == total
    assert len(bus.records("sms.inbound")) <= TRIM_EVERY  # the committed prefix is gone

    late: list[str] = []

    async def late_handler(e):
        late.append(e.body)

    await bus.consume("sms.inbound", "late", late_handler)  # starts at the oldest kept record
    await bus.emit(event(total))
    await eventually(lambda: _true(late and late[-1] == str(total)))
    assert int(late[0]) >= TRIM_EVERY * 3
    await bus.stop()


async def test_a_slow_group_holds_back_retention():
    bus = MemoryBus(partitions=1)
    seen: list[str] = []

    async def fast(e):
        seen.append(e.body)

    await bus.consume("sms.inbound", "fast", fast)
    slow = await bus.consume("sms.inbound", "slow", fast)
    await slow.kill()  # a group that stopped consuming: its offsets stay at 0
    for n in range(TRIM_EVERY * 2):
        await bus.emit(event(n))
    await eventually(lambda: _true(len(seen) == TRIM_EVERY * 2))
    assert len(bus.records("sms.inbound")) == TRIM_EVERY * 2  # kept for the group that lags
    await bus.stop()
