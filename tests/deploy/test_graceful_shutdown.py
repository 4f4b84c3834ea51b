"""On SIGTERM a service stops consuming, lets the handler in flight finish and commit, closes the
producer and exits 0: checked on real processes started the way Kubernetes and Compose start them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from libs.common.bus.memory import partition_for
from libs.common.testing.profiles import EMBEDDED, production_env
from tests.deploy import kustomize
from tests.deploy.slow_service import EVENT, GROUP, TOPIC
from tests.deploy.support import REPO, one, rendered

STARTUP_WAIT_S = 60.0  # a bound on waiting, not a measurement
PARTITIONS = 2


def grace_period_s() -> int:
    """What Kubernetes gives a pod between SIGTERM and SIGKILL (deploy/k8s)."""
    return kustomize.pod_spec(one(rendered(), "Deployment", "parley-router"))[
        "terminationGracePeriodSeconds"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process whose merged output is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        self.proc = subprocess.Popen(args, cwd=REPO, env={**base, **env}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, probe, what: str) -> None:
        deadline = time.monotonic() + STARTUP_WAIT_S
        while not probe():
            assert self.proc.poll() is None, f"exited {self.proc.returncode} before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {what}:\n{self.output()}"
            time.sleep(0.05)

    def wait_for_line(self, text: str) -> None:
        self.wait_for(lambda: any(text in line for line in self.lines), repr(text))

    def wait_healthy(self, port: int) -> None:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        self.wait_for(healthy, "/healthz")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.finish()

    def finish(self) -> int:
        try:
            code = self.proc.wait(timeout=grace_period_s())
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"still running {grace_period_s()} s after SIGTERM:\n{self.output()}")
        self._reader.join()
        return code

    def events(self) -> list[dict]:
        out = []
        for line in self.lines:
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


def service_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    return {"PARLEY_PORT": str(port), "PARLEY_HOST": "127.0.0.1", "PARLEY_DATA_DIR": str(tmp_path),
            "PARLEY_DEMO": "false", "PARLEY_SIMULATOR": "false", "PARLEY_LOG_FORMAT": "json",
            "PARLEY_PARTITIONS": str(PARTITIONS), **extra}


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
    proc = Process([sys.executable, "-m", "services.router"], service_env(
        tmp_path, free_port(), PARLEY_DATABASE_URL="postgresql+asyncpg://parley@127.0.0.1:1/parley"))
    assert proc.finish() == 3, proc.output()


def _bus_env(profile: str, prefix: str) -> dict[str, str]:
    if profile == EMBEDDED:
        return {"PARLEY_BUS": "memory"}
    _, bootstrap = production_env()
    return {"PARLEY_BUS": "kafka", "PARLEY_KAFKA_BOOTSTRAP": bootstrap, "PARLEY_TOPIC_PREFIX": prefix}


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
