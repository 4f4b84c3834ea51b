"""What the console's browser tests and screenshots share: `parley run` on a free 127.0.0.1
port (the embedded suite with its demo tenant, as a user starts it), a simulated phone, and
Debian's Chromium under Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from libs.common.testing.http import free_port

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# Chromium as Playwright drives it here: headless, no GPU, and nothing that reaches the network
# on its own (no QUIC, no background updates, no sync).
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1366, "height": 820}
PHONE = {"width": 390, "height": 844}


def chromium() -> str:
    """Debian's Chromium (scripts/chromium.sh ensure installs it; `make test` runs that)."""
    for cand in (os.environ.get("PARLEY_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if cand and Path(cand).is_file():
            return cand
    raise RuntimeError("Chromium is missing: run scripts/chromium.sh ensure (make test does)")


def wait_for(probe: Callable[[], T], timeout: float = 30.0, interval: float = 0.1) -> T:
    """Poll until `probe` returns something truthy (for effects outside the browser)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


@dataclass
class Parley:
    base: str
    key: str
    data_dir: Path
    process: subprocess.Popen
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base, timeout=20,
                                 headers={"Authorization": f"Bearer {self.key}"})

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def text(self, phone: str, body: str) -> None:
        """A subscriber texts the demo number (the simulated carrier's inbound webhook)."""
        resp = self.http.post("/webhooks/simulator/demo/inbound", json={
            "from": phone, "to": "+15555550000", "body": body, "id": uuid.uuid4().hex})
        assert resp.status_code == 200, resp.text

    def outbox(self, phone: str) -> list[str]:
        resp = self.http.get("/simulator/demo/outbox", params={"to": phone})
        return [m["body"] for m in resp.json()]

    def received(self, phone: str, count: int) -> list[str]:
        def enough():
            got = self.outbox(phone)
            return got if len(got) >= count else None
        return wait_for(enough)

    def queued(self, phone: str) -> dict:
        def entry():
            queue = self.api("GET", "/v1/conversations", params={"status": "agent"}).json()
            return next((c for c in queue if c["phone"] == phone), None)
        return wait_for(entry)


@contextlib.contextmanager
def running_parley(data_dir: Path) -> Iterator[Parley]:
    """`parley run` (embedded suite, demo tenant, simulated carrier) on a free port; stopped with
    SIGTERM afterwards, as Ctrl-C would."""
    port = free_port()
    env = {**os.environ, "PARLEY_HOST": "127.0.0.1", "PARLEY_PORT": str(port),
           "PARLEY_DATA_DIR": str(data_dir), "PARLEY_DEMO": "true", "PARLEY_LOG_LEVEL": "WARNING",
           "PARLEY_SIMULATOR_RECEIPT_DELAY_S": "0.1", "PARLEY_DATABASE_URL": ""}
    env.pop("PARLEY_BUS", None)
    log = (data_dir / "parley.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "services", "run"], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def ready():
            if process.poll() is not None:
                raise RuntimeError(f"parley run exited {process.returncode}: "
                                   f"{(data_dir / 'parley.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            return False

        wait_for(ready, timeout=120, interval=0.2)
        key = wait_for(lambda: (data_dir / "demo-api-key").is_file()
                       and (data_dir / "demo-api-key").read_text().strip())
        parley = Parley(base, key, data_dir, process)
        yield parley
        parley.http.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextlib.contextmanager
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def sign_in(page, parley: Parley, agent: str) -> None:
    page.goto(f"{parley.base}/console/")
    page.get_by_label("Your name").fill(agent)
    page.get_by_label("API key").fill(parley.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Sections").wait_for()


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
