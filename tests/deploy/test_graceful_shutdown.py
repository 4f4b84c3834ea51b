"""On SIGTERM a service stops consuming, lets the handler in flight finish and commit, closes the
producer and exits 0: checked on real processes started the way Kubernetes and Compose start them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time

import pytest

from libs.common.bus.memory import partition_for
from libs.common.testing.profiles import EMBEDDED, production_env
from tests.deploy.processes import PARTITIONS, Process, free_port, service_env
from tests.deploy.slow_service import EVENT, GROUP, TOPIC


def test_a_service_stops_on_sigterm_drains_and_exits_zero(tmp_path):
    port = free_port()
    proc = Process([sys.executable, "-m", "services.router"], service_env(tmp_path, port))
    proc.wait_healthy(port)
    assert proc.stop() == 0, proc.output()
    text = proc.output()
    assert text.index("Shutting down") < text.index("Waiting for application shutdown")
    stopped = [e for e in proc.events() if e.get("event") == "stopped"]
    assert [e["services"] for e in stopped] == ["router"], text
    assert "Application shutdown complete" in text.split('"stopped"')[1]


def test_a_service_that_cannot_start_exits_non_zero(tmp_path):
    """Waiting cannot fix a port another process holds (tests/deploy/test_startup.py: an
    unreachable database is waited for, a misconfiguration exits)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = Process([sys.executable, "-m", "services.router"],
                       service_env(tmp_path, taken.getsockname()[1]))
        assert proc.finish() == 3, proc.output()


def _bus_env(profile: str, prefix: str) -> dict[str, str]:
    if profile == EMBEDDED:
        return {"PARLEY_BUS": "memory"}
    url, bootstrap = production_env()
    # The slow service keeps no rows: the shared server's database, without migrating it.
    return {"PARLEY_BUS": "kafka", "PARLEY_KAFKA_BOOTSTRAP": bootstrap, "PARLEY_TOPIC_PREFIX": prefix,
            "PARLEY_DATABASE_URL": url, "PARLEY_MIGRATE_ON_START": "false"}


async def _committed_offset(bootstrap: str, prefix: str) -> int | None:
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{prefix}{GROUP}.{TOPIC}")
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(prefix + TOPIC, partition_for(EVENT.key, PARTITIONS)))
    return None if found is None else found.offset


def test_sigterm_lets_the_event_in_flight_finish_and_commits_it(profile, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    prefix = f"t{os.getpid()}{time.monotonic_ns() % 10**9}."
    env = service_env(tmp_path, free_port(), SLOW_MARKS=str(marks), **_bus_env(profile, prefix))
    proc = Process([sys.executable, "-m", "tests.deploy.slow_service"], env)
    proc.wait_for(lambda: (marks / "started").exists(), "the handler to start")

    proc.proc.send_signal(signal.SIGTERM)
    proc.wait_for_line("Waiting for application shutdown")  # shutting down, the handler still held
    assert not (marks / "finished").exists()
    (marks / "release").touch()
    assert proc.finish() == 0, proc.output()

    assert (marks / "finished").read_text() == EVENT.event_id
    assert [e["event"] for e in proc.events() if e.get("event") in ("started", "stopped")] == [
        "started", "stopped"]
    if profile != EMBEDDED:
        _, bootstrap = production_env()
        assert asyncio.run(_committed_offset(bootstrap, prefix)) == 1


def test_a_killed_service_commits_nothing_so_the_event_comes_again(profile, tmp_path):
    """The contrast that makes the commit check above meaningful: SIGKILL (a pod past its grace
    period) leaves the event in flight uncommitted, for another member to handle again."""
    if profile == EMBEDDED:
        pytest.skip("the in-memory bus and its offsets end with the process")
    marks = tmp_path / "marks"
    marks.mkdir()
    prefix = f"k{os.getpid()}{time.monotonic_ns() % 10**9}."
    env = service_env(tmp_path, free_port(), SLOW_MARKS=str(marks), **_bus_env(profile, prefix))
    proc = Process([sys.executable, "-m", "tests.deploy.slow_service"], env)
    proc.wait_for(lambda: (marks / "started").exists(), "the handler to start")
    proc.proc.kill()
    assert proc.finish() == -signal.SIGKILL
    _, bootstrap = production_env()
    assert asyncio.run(_committed_offset(bootstrap, prefix)) in (None, -1)
