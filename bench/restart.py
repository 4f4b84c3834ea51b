"""Restart: time from starting a router process again after `kill -9` of the previous one to (1)
`/readyz` 200 and (2) every one of its consumer groups stable with the new process holding all
partitions (the broker's view, from DescribeGroups), on Kafka + PostgreSQL.

The router runs as `python -m services.router` in a subprocess, as in production; the first start
creates the schema and the topics, then each round kills it with SIGKILL (no LeaveGroup, so the
broker still counts the dead member) and starts it again at once with the same environment (the
same host name: a container restarted in place in its pod). Two kinds of round, timed from the kill:

- cold: a new interpreter, as a container starts; on a busy machine its imports alone can take
  longer than a consumer group session (10 s), which then expires whatever the code does;
- warm: a new interpreter that had already imported the code before the kill, so the figure is
  what connecting, migrating and joining the groups cost (a container on an idle node).

Needs PARLEY_TEST_KAFKA_BOOTSTRAP and PARLEY_TEST_DATABASE_URL (`make bench` sets them); otherwise
it prints why and skips.

    python -m bench.restart [rounds]
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import database_url, kafka_bootstrap, report

REPO = Path(__file__).resolve().parent.parent
TOPICS = ("sms.inbound", "link.clicked", "campaign.enrolled", "subscriber.events")
PARTITIONS = 8
WAIT_S = 120.0  # a bound on waiting, not a measurement


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A router that imports everything, says so, and starts serving only once told to.
WARM = """
import os, runpy, time
from pathlib import Path
import libs.common.service, services.router.app
Path(os.environ["BENCH_LOADED"]).touch()
while not Path(os.environ["BENCH_GO"]).exists():
    time.sleep(0.005)
runpy.run_module("services.router", run_name="__main__")
"""


def start(env: dict[str, str], log: Path, warm_dir: Path | None = None) -> subprocess.Popen:
    out = log.open("ab")
    if warm_dir is None:
        args = [sys.executable, "-m", "services.router"]
    else:
        env = {**env, "BENCH_LOADED": str(warm_dir / "loaded"), "BENCH_GO": str(warm_dir / "go")}
        args = [sys.executable, "-c", WARM]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def members(admin, groups: list[str]) -> dict[str, list[tuple[str, set[int]]]]:
    """{group: [(member id, partitions it holds)]} for groups that are Stable."""
    from aiokafka.errors import KafkaError

    from libs.common.testing.servers import group_members

    try:
        found = await group_members(admin, groups)
    except KafkaError:
        return {}  # the coordinator is busy (a group loading): asked again on the next poll
    return {group: members for group, (state, members) in found.items() if state == "Stable"}


async def assigned_to_new(admin, groups: list[str], old: set[str]) -> set[str] | None:
    """The new member ids once every group is stable with one new member holding everything."""
    found = await members(admin, groups)
    if set(found) != set(groups):
        return None
    new = set()
    for group_members in found.values():
        if len(group_members) != 1:
            return None
        member_id, parts = group_members[0]
        if member_id in old or parts != set(range(PARTITIONS)):
            return None
        new.add(member_id)
    return new


async def measure(rounds: int, bootstrap: str, url: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from libs.common.testing.profiles import fresh_postgres

    prefix = f"restart{uuid.uuid4().hex[:8]}."
    groups = [f"{prefix}router.{t}" for t in TOPICS]
    port = free_port()
    async with fresh_postgres(url) as db_url:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env = {**base, "PARLEY_BUS": "kafka", "PARLEY_KAFKA_BOOTSTRAP": bootstrap,
               "PARLEY_DATABASE_URL": db_url, "PARLEY_TOPIC_PREFIX": prefix,
               "PARLEY_PARTITIONS": str(PARTITIONS), "PARLEY_PORT": str(port),
               "PARLEY_HOST": "127.0.0.1", "PARLEY_LOG_FORMAT": "json", "PARLEY_DEMO": "false",
               "PARLEY_SIMULATOR": "false"}
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        with tempfile.TemporaryDirectory() as tmp:
            env["PARLEY_DATA_DIR"] = tmp
            log = Path(tmp) / "router.log"
            proc = start(env, log)
            try:
                old: set[str] = set()
                until = time.monotonic() + WAIT_S
                while not (ready(port) and (old := await assigned_to_new(admin, groups, set()) or set())):
                    if time.monotonic() > until or proc.poll() is not None:
                        raise SystemExit(f"the first start did not get ready:\n{log.read_text()}")
                    await asyncio.sleep(0.05)
                figures: dict[str, list[float]] = {}
                for n in range(2 * rounds):
                    kind = "warm" if n % 2 else "cold"
                    warm_dir = Path(tmp) / f"warm{n}"
                    if kind == "warm":
                        warm_dir.mkdir()
                        nxt = start(env, log, warm_dir)
                        while not (warm_dir / "loaded").exists():  # noqa: ASYNC110 (another process)
                            await asyncio.sleep(0.01)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    began = time.monotonic()
                    if kind == "warm":
                        (warm_dir / "go").touch()
                        proc = nxt
                    else:
                        proc = start(env, log)
                    got_ready = got_assigned = None
                    while got_ready is None or got_assigned is None:
                        now = time.monotonic()
                        if now - began > WAIT_S or proc.poll() is not None:
                            raise SystemExit(f"not ready after a restart:\n{log.read_text()[-4000:]}")
                        if got_ready is None and ready(port):
                            got_ready = now - began
                        if got_assigned is None and (new := await assigned_to_new(admin, groups, old)):
                            got_assigned, old = now - began, new
                        await asyncio.sleep(0.05)
                    figures.setdefault(f"{kind} readyz_200_s", []).append(got_ready)
                    figures.setdefault(f"{kind} all_groups_assigned_s", []).append(got_assigned)
                    await asyncio.sleep(1.0)  # settle: heartbeats of the new member
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                await admin.close()
    for name, values in figures.items():
        report(f"restart {name}", min=min(values), median=sorted(values)[len(values) // 2],
               max=max(values), rounds=len(values))


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    bootstrap, url = kafka_bootstrap(), database_url()
    if not bootstrap or not url:
        print("restart: skipped (needs PARLEY_TEST_KAFKA_BOOTSTRAP and PARLEY_TEST_DATABASE_URL)")
        return
    asyncio.run(measure(rounds, bootstrap, url))


if __name__ == "__main__":
    main()
