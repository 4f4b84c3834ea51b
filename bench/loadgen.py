"""Open-loop webhook load: simulator inbound texts sent on a fixed schedule, whatever the answers do.

Run as its own process by bench/pipeline.py (`python -m bench.loadgen SPEC.json`), at a lower
priority than the services. The schedule is a list of steps (rate, seconds); request k of a step
is due at step start + k / rate, and its latency is counted from that due time, not from when it
was written: a backlog in this process or in the connection pool shows as latency (no coordinated
omission). A request still unsent when its timeout from the due time has passed is not sent and
counts as a timeout, so an overloaded service cannot make the backlog here grow without bound.

Requests go over a pool of keep-alive HTTP/1.1 connections (one request at a time on each), grown
on demand up to `max_connections`. stdout carries JSON lines: `started` (the wall-clock time of
the schedule's origin), one `step` summary per step once each of its requests is answered or timed
out, and `done` (this process's CPU seconds). A line `stop` on stdin ends the schedule early (the
ramp); requests in flight are still answered. Every request is one line of the results file:
id, step, due (wall clock), how late it was written, latency, status ("timeout", "error" or the
HTTP status).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.common import percentile, read_response

KEEP_ALIVE_S = 4.0  # below uvicorn's 5 s keep-alive: an idle connection is reopened, not reused


@dataclass(frozen=True)
class Spec:
    port: int
    path: str  # /webhooks/simulator/<tenant>/inbound
    to: str  # the tenant's number
    steps: list[tuple[float, float]]  # (rate per second, seconds)
    out: str  # results file
    tag: str = "m"  # message ids are <tag>s<step>-<k>
    phones: int = 10_000  # distinct senders, at most 10,000
    body: str = "HELP"
    max_connections: int = 256
    timeout_s: float = 10.0
    nice: int = 5
    stop_on_error: bool = False  # the ramp: a non-2xx answer ends the schedule


def message_id(tag: str, step: int, k: int) -> str:
    return f"{tag}s{step}-{k}"


def schedule(steps: list[tuple[float, float]]) -> list[tuple[int, int, float]]:
    """(step, k, due offset in seconds from the origin) for every request, in due order."""
    out, start = [], 0.0
    for i, (rate, seconds) in enumerate(steps):
        out.extend((i, k, start + k / rate) for k in range(round(rate * seconds)))
        start += seconds
    return out


def _request(spec: Spec, mid: str, n: int) -> bytes:
    # Phones, ids and the body are plain ASCII without quotes: no JSON encoder needed per request.
    body = (f'{{"from":"+1415555{n % spec.phones:04d}","to":"{spec.to}","body":"{spec.body}",'
            f'"id":"{mid}"}}').encode()
    return (f"POST {spec.path} HTTP/1.1\r\nHost: 127.0.0.1:{spec.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


@dataclass
class Result:
    mid: str
    step: int
    due: float  # perf_counter
    late: float = 0.0  # written this long after its due time
    latency: float | None = None  # due time → answer read
    status: str = "pending"


@dataclass
class Generator:
    spec: Spec
    origin: float = 0.0  # perf_counter of the schedule's origin
    wall_offset: float = 0.0  # time.time() - perf_counter()
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    idle: int = 0
    workers: list[asyncio.Task] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    stopped: bool = False
    error_seen: bool = False
    unresolved: Counter = field(default_factory=Counter)  # per step: requests not yet resolved
    step_done: dict[int, asyncio.Event] = field(default_factory=dict)

    def resolve(self, result: Result, status: str, latency: float | None = None) -> None:
        result.status, result.latency = status, latency
        if not status.startswith("2"):
            self.error_seen = True
        self.unresolved[result.step] -= 1
        if self.unresolved[result.step] == 0 and result.step in self.step_done:
            self.step_done[result.step].set()

    def submit(self, result: Result, request: bytes) -> None:
        self.queue.put_nowait((result, request))
        # Items still queued beyond the workers waiting for one: every connection is busy.
        if self.queue.qsize() > self.idle and len(self.workers) < self.spec.max_connections:
            self.workers.append(asyncio.create_task(self._worker()))

    async def _worker(self) -> None:
        reader = writer = None
        last_used = 0.0
        while True:
            self.idle += 1
            try:
                result, request = await self.queue.get()
            finally:
                self.idle -= 1
            if result is None:
                break
            now = time.perf_counter()
            deadline = result.due + self.spec.timeout_s
            if now >= deadline:
                self.resolve(result, "timeout")
                continue
            try:
                async with asyncio.timeout(deadline - now):
                    if writer is None or now - last_used > KEEP_ALIVE_S:
                        if writer is not None:
                            writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", self.spec.port)
                    result.late = time.perf_counter() - result.due
                    writer.write(request)
                    status, close = await read_response(reader)
                last_used = time.perf_counter()
                self.resolve(result, str(status), last_used - result.due)
                if close:
                    writer.close()
                    writer = None
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                self.resolve(result, "timeout" if isinstance(exc, TimeoutError) else "error")
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    async def run(self) -> None:
        plan = schedule(self.spec.steps)
        self.wall_offset = time.time() - time.perf_counter()
        self.origin = time.perf_counter() + 0.2
        emit({"event": "started", "origin_wall": self.origin + self.wall_offset,
              "steps": self.spec.steps})
        by_step: dict[int, list[Result]] = {}
        summaries = []
        current = -1
        for step, k, offset in plan:
            if self.stopped or (self.spec.stop_on_error and self.error_seen):
                break
            if step != current:
                if current >= 0:
                    summaries.append(asyncio.create_task(self._summarise(current, by_step[current])))
                current = step
            due = self.origin + offset
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            mid = message_id(self.spec.tag, step, k)
            result = Result(mid, step, due)
            self.unresolved[step] += 1
            self.results.append(result)
            by_step.setdefault(step, []).append(result)
            self.submit(result, _request(self.spec, mid, len(self.results)))
        if current >= 0:
            summaries.append(asyncio.create_task(self._summarise(current, by_step[current])))
        await asyncio.gather(*summaries)
        for _ in self.workers:
            self.queue.put_nowait((None, None))
        await asyncio.gather(*self.workers)

    async def _summarise(self, step: int, results: list[Result]) -> None:
        if self.unresolved[step] > 0:
            self.step_done[step] = asyncio.Event()
            await self.step_done[step].wait()
        statuses = Counter(r.status for r in results)
        ok = [r.latency for r in results if r.status.startswith("2") and r.latency is not None]
        emit({"event": "step", "step": step, "sent": len(results), "statuses": dict(statuses),
              "p99_ms": percentile(ok, 99) * 1000 if ok else None})

    def write(self) -> None:
        with open(self.spec.out, "w") as f:
            for r in self.results:
                latency = "" if r.latency is None else f"{r.latency:.6f}"
                f.write(f"{r.mid}\t{r.step}\t{r.due + self.wall_offset:.6f}\t{r.late:.6f}\t"
                        f"{latency}\t{r.status}\n")


def emit(line: dict) -> None:
    print(json.dumps(line), flush=True)


async def _watch_stdin(gen: Generator) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            gen.stopped = True
            return


async def main(spec: Spec) -> None:
    gen = Generator(spec)
    watcher = asyncio.create_task(_watch_stdin(gen))
    try:
        await gen.run()
    finally:
        watcher.cancel()
    gen.write()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    emit({"event": "done", "cpu_s": usage.ru_utime + usage.ru_stime, "sent": len(gen.results),
          "connections": len(gen.workers)})


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        raw = json.load(f)
    raw["steps"] = [tuple(s) for s in raw["steps"]]
    with contextlib.suppress(OSError):
        os.nice(raw.get("nice", Spec.nice))
    asyncio.run(main(Spec(**raw)))
    os._exit(0)  # the stdin reader thread may still be blocked in readline
