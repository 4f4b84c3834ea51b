"""Services run as real processes, the way Kubernetes and Compose start them: their merged output
collected line by line, waits bounded by the pod's grace period."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.deploy import kustomize
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

    async def until(self, probe, what: str):
        """Like wait_for, for an async probe, letting the event loop run meanwhile."""
        deadline = time.monotonic() + STARTUP_WAIT_S
        while not (value := await probe()):
            assert self.proc.poll() is None, f"exited {self.proc.returncode} before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {what}:\n{self.output()}"
            await asyncio.sleep(0.05)
        return value

    async def until_exit(self, probe) -> None:
        """Until `probe` says the process is done (it may exit meanwhile), letting the loop run."""
        deadline = time.monotonic() + STARTUP_WAIT_S
        while not await probe():
            assert time.monotonic() < deadline, f"still running:\n{self.output()}"
            await asyncio.sleep(0.05)

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

    async def stop_async(self) -> int:
        """stop(), letting the event loop run meanwhile (a TcpGate on it must keep forwarding)."""
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_period_s()
        # A child process's exit is not an awaitable here: poll it.
        while self.proc.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
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

    def named(self, event: str) -> list[dict]:
        return [e for e in self.events() if e.get("event") == event]


def service_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    return {"PARLEY_PORT": str(port), "PARLEY_HOST": "127.0.0.1", "PARLEY_DATA_DIR": str(tmp_path),
            "PARLEY_DEMO": "false", "PARLEY_SIMULATOR": "false", "PARLEY_LOG_FORMAT": "json",
            "PARLEY_PARTITIONS": str(PARTITIONS), **extra}




async def http(port: int, method: str, path: str, **kwargs) -> httpx.Response | None:
    """One request to a service on 127.0.0.1, or None while nothing answers."""
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            return await client.request(method, path, **kwargs)
    except httpx.HTTPError:
        return None
