"""Helpers the benchmarks share: percentiles, a consistent way to print figures, reading an HTTP/1.1
answer off a raw socket, and the CPU time of process trees."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
from collections.abc import Mapping
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def report(name: str, **figures: object) -> None:
    parts = []
    for key, value in figures.items():
        parts.append(f"{key}={value:,.2f}" if isinstance(value, float) else f"{key}={value}")
    print(f"{name:<28} " + "  ".join(parts), flush=True)


def ms(seconds: float) -> float:
    return seconds * 1000


def kafka_bootstrap() -> str | None:
    return os.environ.get("PARLEY_TEST_KAFKA_BOOTSTRAP")


def database_url() -> str | None:
    return os.environ.get("PARLEY_TEST_DATABASE_URL")


def keep_or_remove(workdir: Path, keep: bool) -> None:
    """A run's working directory (service logs): kept and named when asked or the run failed."""
    if keep:
        print(f"\nservice logs kept in {workdir}", flush=True)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """One HTTP/1.1 answer with a Content-Length body: (status, whether the server closes)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    await reader.readexactly(length)
    return status, close


# CPU time from /proc: utime+stime of each live process in a tree, plus cutime+cstime (the children
# it has already reaped), so processes that come and go (PostgreSQL backends, worker processes)
# still count. Clock ticks: 10 ms on Linux, fine over windows of tens of seconds.
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks incl. reaped children) of one process, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return int(fields[1]), sum(int(f) for f in fields[11:15])


def tree_cpu_seconds(roots: Mapping[str, int | None]) -> dict[str, float | None]:
    """CPU seconds so far of each named process and all its descendants (None: not running)."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parent[int(entry.name)], ticks[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, float | None] = {}
    for name, root in roots.items():
        if root is None or root not in ticks:
            out[name] = None
            continue
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            total += ticks.get(pid, 0)
            todo.extend(children.get(pid, ()))
        out[name] = total / _TICK
    return out


__all__ = ["database_url", "kafka_bootstrap", "keep_or_remove", "ms", "percentile", "read_response", "report",
           "statistics", "tree_cpu_seconds"]
