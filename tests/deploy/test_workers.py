"""PARLEY_WORKERS: one service as several worker processes on one port (production profile: the
memory bus is one process's). Each worker joins the service's consumer groups as a member of its
own, `/metrics` on any of them counts what all of them did, a worker killed is started again
while the others keep serving, and SIGTERM stops them all with status 0."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import uuid
from pathlib import Path

import pytest

from libs.common import workers
from libs.common.testing.profiles import PRODUCTION, fresh_postgres, production_env
from tests.deploy.processes import Process, free_port, http, service_env

INBOUND = {"from": "+15555550100", "to": "+15555550000", "body": "HELP"}
REFUSALS = 30


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def refused_unknown_tenant(metrics: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(
        r'^parley_webhooks_total\{[^}]*outcome="refused_unknown_tenant"[^}]*\} (\S+)$', metrics, re.M))


def two_workers(service: str, tmp_path: Path, port: int, db_url: str, bootstrap: str,
                **env: str) -> Process:
    return Process([sys.executable, "-m", f"services.{service}"], service_env(
        tmp_path, port, PARLEY_BUS="kafka", PARLEY_KAFKA_BOOTSTRAP=bootstrap, PARLEY_DATABASE_URL=db_url,
        PARLEY_TOPIC_PREFIX=f"w{uuid.uuid4().hex[:10]}.", PARLEY_MIGRATE_ON_START="true",
        PARLEY_WORKERS="2", **env))


@pytest.fixture
def servers(profile):
    if profile != PRODUCTION:
        pytest.skip("several processes share a real broker and database (production profile)")
    return production_env()


async def test_two_workers_share_the_port_the_groups_and_the_metrics_and_a_killed_one_comes_back(
        servers, tmp_path):
    url, bootstrap = servers
    async with fresh_postgres(url) as db_url:
        port = free_port()
        proc = two_workers("ingress", tmp_path, port, db_url, bootstrap, PARLEY_SIMULATOR="true")
        try:
            async def both_started():
                return len(proc.named("started")) == 2 or None

            await proc.until(both_started, "two workers started")
            first = children(proc.proc.pid)
            assert first == {e["pid"] for e in proc.named("worker_started")}

            for _ in range(REFUSALS):  # a new connection each: the kernel spreads them
                resp = await http(port, "POST", "/webhooks/simulator/nobody/inbound", json=INBOUND)
                assert resp is not None and resp.status_code == 404, resp and resp.text
            for _ in range(4):  # whichever worker answers the scrape counts them all
                metrics = await http(port, "GET", "/metrics")
                assert refused_unknown_tenant(metrics.text) == REFUSALS

            victim = min(first)
            os.kill(victim, signal.SIGKILL)

            async def replaced():
                now = children(proc.proc.pid)
                return now if len(now) == 2 and victim not in now and len(proc.named("started")) == 3 \
                    else None

            await proc.until(replaced, "the killed worker started again")
            (killed,) = [e["worker"] for e in proc.named("worker_started") if e["pid"] == victim]
            assert [e["worker"] for e in proc.named("worker_exited_restarting")] == [killed]
            resp = await http(port, "GET", "/readyz")
            assert resp.status_code == 200, resp.text
        finally:
            pids = children(proc.proc.pid)
            code = await proc.stop_async()
    assert code == 0, proc.output()
    await asyncio.sleep(0.2)
    assert not alive(pids)  # no worker left behind


async def test_each_worker_is_a_member_of_the_consumer_groups_of_its_own(servers, tmp_path):
    url, bootstrap = servers
    async with fresh_postgres(url) as db_url:
        proc = two_workers("router", tmp_path, free_port(), db_url, bootstrap,
                           PARLEY_INSTANCE_ID="pod-a")
        try:
            async def both_in_the_inbound_group():
                members = {e["instance"] for e in proc.named("partitions_assigned")
                           if e["group"].endswith("router.sms.inbound")}
                return members if len(members) == 2 else None

            members = await proc.until(both_in_the_inbound_group, "two members of router.sms.inbound")
            assert {m.split(".")[0] for m in members} == {"pod-a-w0", "pod-a-w1"}
        finally:
            code = await proc.stop_async()
    assert code == 0, proc.output()


@pytest.mark.parametrize("configured, bus, expected", [
    (1, "memory", 1), (4, "memory", 1), (3, "kafka", 3), (1, "kafka", 1),
    (0, "kafka", workers.available_cores())])
def test_the_worker_count_is_the_setting_and_0_is_one_per_core_but_the_memory_bus_has_one(
        configured, bus, expected):
    assert workers.count(configured, bus) == expected


def test_the_default_is_one_worker():
    from libs.common.config import Settings

    assert Settings(bus="kafka", database_url="postgresql+asyncpg://p@127.0.0.1/p").workers == 1
