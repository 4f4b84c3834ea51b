"""Kafka consumer groups on the real test broker: a member that comes back under its static id
after a crash gets its partitions back without a rebalance; one that stops gracefully leaves at
once; a consumer whose polling raises keeps consuming; and a handler that fails because the
database is down does not send the event to the dead-letter topic (production profile only)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.exc import DBAPIError

from libs.common.bus import make_bus
from libs.common.events import sms_inbound
from libs.common.events.sms_inbound import InboundSms
from libs.common.testing.app import eventually
from libs.common.testing.servers import group_members

TOPIC = sms_inbound.TOPIC


@pytest.fixture
def kafka(settings, profile):
    if profile != "production":
        pytest.skip("consumer groups of the real broker (production profile)")
    return settings.model_copy(update={"partitions": 4})


def bus_named(settings, instance: str | None):
    return make_bus(settings.model_copy(update={"instance_id": instance,
                                                "kafka_static_membership": instance is not None}))


def event(n: int) -> InboundSms:
    return InboundSms(tenant_id="t1", phone=f"+1555555{n % 10:04d}", to="+15555550000", body=str(n),
                      carrier="simulator", carrier_message_id=str(n))


def generation(consumer) -> int:
    return consumer._consumer._coordinator.generation


async def nothing(event) -> None:
    return None


async def test_a_member_back_under_its_static_id_after_a_crash_gets_its_partitions_without_a_rebalance(kafka):
    instance = f"router-{uuid.uuid4().hex[:6]}"
    first = bus_named(kafka, instance)
    await first.start()
    crashed = await first.consume(TOPIC, "router", nothing)
    before = generation(crashed)
    await crashed.kill()  # no LeaveGroup, as with kill -9: the broker still counts the member
    await first.stop()

    again = bus_named(kafka, instance)
    await again.start()
    try:
        back = await again.consume(TOPIC, "router", nothing)
        assert back.instance_id == f"{instance}.router.{TOPIC}"
        assert back.assignment() == set(range(4))
        # The same generation: the broker handed the returning member its assignment, no group
        # rebalance, so no waiting for the dead member's session to expire.
        assert generation(back) == before
    finally:
        await again.stop()


async def test_a_graceful_stop_leaves_the_group_at_once_even_as_a_static_member(kafka):
    buses = [bus_named(kafka, f"r{n}-{uuid.uuid4().hex[:6]}") for n in (1, 2)]
    for bus in buses:
        await bus.start()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.kafka_bootstrap)
    await admin.start()
    try:
        leaving, staying = [await bus.consume(TOPIC, "split", nothing) for bus in buses]
        group = leaving.group_id
        await eventually(lambda: _members(admin, group, 2))
        await buses[0].stop()
        state, members = (await group_members(admin, [group]))[group]
        assert len(members) == 1, (state, members)  # gone now, not after its session timed out
        await eventually(lambda: _async(staying.assignment() == set(range(4))))
    finally:
        await buses[1].stop()
        await admin.close()


async def test_a_consumer_whose_polling_raises_keeps_consuming(kafka):
    bus = make_bus(kafka)
    await bus.start()
    got: list[str] = []

    async def handler(e):
        got.append(e.body)

    try:
        consumer = await bus.consume(TOPIC, "flaky", handler)
        real = consumer._consumer.getmany
        failures = iter([RuntimeError("polling failed")])

        async def getmany(*args, **kwargs):
            for exc in failures:
                raise exc
            return await real(*args, **kwargs)

        consumer._consumer.getmany = getmany
        await bus.emit(event(1))
        await eventually(lambda: _async(got == ["1"]))
    finally:
        await bus.stop()


async def test_a_handler_failing_on_a_database_outage_gets_the_event_again_not_the_dead_letters(kafka):
    bus = make_bus(kafka.model_copy(update={"bus_max_tries": 2}))
    await bus.start()
    down = 5  # more failures than tries: were they counted, the event would be dead-lettered
    got: list[str] = []  # and never come back

    async def handler(e):
        nonlocal down
        if down:
            down -= 1
            raise DBAPIError("SELECT 1", None, asyncpg.CannotConnectNowError("the database system is "
                                                                              "starting up"))
        got.append(e.body)

    try:
        await bus.consume(TOPIC, "outage", handler)
        await bus.emit(event(7))
        await eventually(lambda: _async(got == ["7"]), timeout=60)
        assert down == 0
    finally:
        await bus.stop()


async def _members(admin, group: str, n: int) -> bool:
    state, members = (await group_members(admin, [group]))[group]
    return state == "Stable" and len(members) == n


async def _async(value):
    return value
