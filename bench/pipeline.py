"""The whole pipeline as deployed: webhooks offered at fixed rates, each answered by exactly one text
on the simulated carrier.

Kafka and PostgreSQL come from `scripts/` (PARLEY_TEST_KAFKA_BOOTSTRAP / PARLEY_TEST_DATABASE_URL;
without them this re-runs itself under scripts/with-servers.sh). The four services run as separate
processes (`python -m services.<name>`) with the settings of deploy/k8s/base/configmap.yaml, except:
127.0.0.1, their own ports, one Kafka replica (one broker), the simulated carrier on, and every
carrier API URL pointed at 127.0.0.1 (nothing leaves the machine). Rate limits stay on as deployed;
a simulator number without its own `rate_per_s` is unlimited. Each rate gets a fresh stack: its
own database (a copy of one migrated once), its own topic prefix and newly started services, so a
rate above saturation leaves no backlog to the next one.

A tenant is created through the router's admin API with a sending number on the simulated carrier
(sender's /v1/numbers). A load generator in its own process (bench/loadgen.py, at a lower
priority) posts simulator inbound webhooks `HELP` from 10,000 phones, open loop: on schedule,
whether or not answers came back, latency counted from each request's due time. HELP always gets
exactly one reply (the compliance help text, kind `compliance`: no consent, quiet-hours or
frequency checks hold it), so every webhook answered 2xx must end as exactly one row in
`simulated_message`, linked through `outbound_message.in_reply_to` to the inbound id.

Per rate: warm-up (not counted), the measured window, consumer lag at its end (committed vs end
offsets of every consumer group), then up to `--drain` seconds for the replies. Figures: offered
and achieved rates (webhooks answered 2xx per second; replies delivered per second), webhook 2xx
latency, webhook → carrier-received latency (the reply's `sent_at` minus the webhook's due time,
both from this machine's clock, microsecond resolution), lag, unanswered and duplicated replies,
and CPU milliseconds per reply delivered of each process tree (from /proc, warm-up start to the
end of the drain). The ramp raises the rate every few seconds until a step's webhook → carrier p99
exceeds 1 s or a webhook is not answered 2xx; the saturation throughput is the last rate sustained.

Exit status 1 when a reply is proven missing (the reply path drained, yet no reply) or duplicated,
or the stack failed; a reply still queued when the drain ends is reported, not failed.

    python -m bench.pipeline [--rates 100,250] [--duration 30] [--warmup 5] [--drain 60]
                             [--workers N] [--no-ramp] [--quick] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import database_url, kafka_bootstrap, keep_or_remove, percentile, tree_cpu_seconds
from bench.loadgen import message_id, schedule
from bench.replies import drain, exactly_once, fetch_replies
from bench.stack import (
    NUMBER,
    REPO,
    SERVERS,
    SERVICES,
    TENANT,
    Kafka,
    Stack,
    admin_sql,
    create_tenant,
    delete_topics,
    migrated_template,
    pg_args,
    prime,
    server_pids,
    with_database,
)

RATES = (100, 250, 500, 1000, 2000)
REPLY_PATH = ("router.sms.inbound", "sender.sms.outbound")  # the groups a reply waits on
SETTLED = frozenset({"sent", "failed", "suppressed"})  # outbound_message states the sender is done with
E2E_LIMIT_S = 1.0  # the ramp stops at the first step whose webhook → carrier p99 exceeds this


# --- figures (pure) -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """One line of the load generator's results file."""

    mid: str
    step: int
    due: float  # wall clock
    late: float  # written this long after due
    latency: float | None  # due → answer
    status: str  # HTTP status, "timeout" or "error"

    @property
    def ok(self) -> bool:
        return self.status.startswith("2")


def read_results(path: Path) -> list[Request]:
    out = []
    for line in path.read_text().splitlines():
        mid, step, due, late, latency, status = line.split("\t")
        out.append(Request(mid, int(step), float(due), float(late),
                           float(latency) if latency else None, status))
    return out


def drained(lag: Mapping[str, int], outbound: Mapping[str, int]) -> bool:
    """Nothing left on the way to a reply: the reply path's groups committed everything and the
    sender holds no message it has yet to settle (a reply still missing then is lost)."""
    return (sum(lag.get(g, 0) for g in REPLY_PATH) == 0
            and all(status in SETTLED for status, n in outbound.items() if n))


@dataclass(frozen=True)
class Figure:
    value: float
    at_least: bool = False  # falls on a message still unanswered: the true value is higher


def censored_percentile(answered: list[float], unanswered: list[float], p: float) -> Figure:
    """Percentile of latencies where unanswered messages count with the time waited so far (a
    lower bound): a p99 is only known when fewer than 1% are unanswered."""
    values = sorted([(v, False) for v in answered] + [(v, True) for v in unanswered])
    if not values:
        return Figure(math.nan)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return Figure(*values[k])


def e2e(requests: Iterable[Request], replies: Mapping[str, list[float]], now: float
        ) -> tuple[list[float], list[float]]:
    """(latencies of answered, waits so far of unanswered) from each request's due time to the
    carrier receiving its first reply."""
    answered, unanswered = [], []
    for r in requests:
        if r.mid in replies:
            answered.append(replies[r.mid][0] - r.due)
        else:
            unanswered.append(now - r.due)
    return answered, unanswered


def sustained(requests: list[Request], replies: Mapping[str, list[float]], now: float,
              limit_s: float = E2E_LIMIT_S) -> bool:
    """A ramp step held: every webhook answered 2xx and its webhook → carrier p99 within the limit."""
    if not requests or not all(r.ok for r in requests):
        return False
    answered, unanswered = e2e(requests, replies, now)
    return censored_percentile(answered, unanswered, 99).value <= limit_s


def saturation(verdicts: list[tuple[float, bool]]) -> float | None:
    """The highest rate of the ramp's steps held in a row from the first (None: not even that)."""
    best = None
    for rate, held in verdicts:
        if not held:
            break
        best = rate
    return best


def rate_of(times: Iterable[float]) -> float:
    """Events per second from their times: intervals over the span from the first to the last
    (none or one event: 0, the rate that overload brings)."""
    ordered = sorted(times)
    if len(ordered) < 2 or ordered[-1] <= ordered[0]:
        return 0.0
    return (len(ordered) - 1) / (ordered[-1] - ordered[0])


# --- one run ------------------------------------------------------------------------------------

@dataclass
class Options:
    rates: list[float]
    duration: float
    warmup: float
    drain: float
    workers: int | None
    ramp: bool
    ramp_start: float
    ramp_step: float
    ramp_every: float
    timeout: float
    nice: int
    connections: int
    keep: bool = False


@dataclass
class Row:
    label: str
    offered: float
    accepted_per_s: float = math.nan
    delivered_per_s: float = math.nan
    ok_p50: float = math.nan
    ok_p99: float = math.nan
    e2e_p50: Figure = Figure(math.nan)
    e2e_p99: Figure = Figure(math.nan)
    e2e_max: Figure = Figure(math.nan)
    late_p99: float = math.nan
    not_ok: dict[str, int] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)
    lag_after: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    unanswered: int = 0
    lost: int = 0  # unanswered although the reply path had drained
    duplicated: int = 0
    refused_replied: int = 0
    late_accepted: int = 0
    delivered: int = 0  # replies in the CPU window (all of them, late accepted ones too)
    outbound: dict[str, int] = field(default_factory=dict)  # sender's outbound_message by status
    cpu_ms: dict[str, float | None] = field(default_factory=dict)
    db: dict[str, float] = field(default_factory=dict)  # the database's counters per reply
    ramp: list[tuple[float, int, int, Figure, bool]] = field(default_factory=list)
    saturation: float | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.error or self.lost or self.duplicated or self.refused_replied)


class LoadGenerator:
    """bench/loadgen.py in its own process; its JSON lines arrive on `lines`."""

    def __init__(self, spec: dict, workdir: Path) -> None:
        self.spec_path = workdir / "loadgen.json"
        self.spec_path.write_text(json.dumps(spec))
        self.proc: asyncio.subprocess.Process | None = None
        self.started: dict = {}
        self.steps: dict[int, dict] = {}
        self.done: dict = {}
        self._started = asyncio.Event()
        self._reader: asyncio.Task | None = None

    async def start(self) -> float:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.loadgen", str(self.spec_path), cwd=REPO,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._started.wait(), 60)
        return self.started["origin_wall"]

    async def _read(self) -> None:
        assert self.proc and self.proc.stdout
        async for raw in self.proc.stdout:
            line = json.loads(raw)
            if line["event"] == "started":
                self.started = line
                self._started.set()
            elif line["event"] == "step":
                self.steps[line["step"]] = line
            elif line["event"] == "done":
                self.done = line

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def stop(self) -> None:
        if self.proc and self.proc.stdin and not self.proc.stdin.is_closing():
            self.proc.stdin.write(b"stop\n")

    async def wait(self, timeout_s: float) -> None:
        assert self.proc
        try:
            await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise RuntimeError("the load generator did not finish") from None
        if self._reader:
            await self._reader
        if self.proc.returncode != 0:
            raise RuntimeError(f"the load generator exited with {self.proc.returncode}")


async def _ramp_monitor(gen: LoadGenerator, db_url: str, steps: list[tuple[float, float]],
                        origin: float, tag: str) -> None:
    """Evaluate each ramp step once its last request is E2E_LIMIT_S old; stop at the first miss."""
    import asyncpg

    conn = await asyncpg.connect(**pg_args(db_url))
    try:
        await _watch_ramp(gen, conn, steps, origin, tag)
    finally:
        await conn.close()


async def _watch_ramp(gen: LoadGenerator, conn, steps: list[tuple[float, float]], origin: float,
                      tag: str) -> None:
    plan = schedule(steps)
    start = 0.0
    for i, (rate, seconds) in enumerate(steps):
        step_start, start = start, start + seconds
        if i == 0:
            continue  # warm-up
        verdict_at = origin + start + E2E_LIMIT_S + 0.3
        await asyncio.sleep(max(0.0, verdict_at - time.time()))
        if not gen.running:
            return
        requests = [Request(message_id(tag, s, k), s, origin + off, 0.0, None, "200")
                    for s, k, off in plan if s == i]
        replies = await fetch_replies(conn, TENANT, origin + step_start)
        status = gen.steps.get(i, {}).get("statuses", {})
        now = time.time()
        answered, unanswered = e2e(requests, replies, now)
        p99 = _fig(censored_percentile(answered, unanswered, 99))
        if not sustained(requests, replies, now) or any(not s.startswith("2") for s in status):
            print(f"  ramp: {rate:,.0f} msg/s not held (e2e p99 {p99} ms at +{now - origin:.1f} s), "
                  "stopping", flush=True)
            gen.stop()
            return
        print(f"  ramp: {rate:,.0f} msg/s held (e2e p99 {p99} ms)", flush=True)


async def run_once(label: str, steps: list[tuple[float, float]], opts: Options, pg_url: str,
                   template: str, bootstrap: str, workdir: Path, ramp: bool = False) -> Row:
    import asyncpg

    row = Row(label, steps[-1][0] if not ramp else math.nan)
    db_name = "bench_" + uuid.uuid4().hex[:10]
    await admin_sql(pg_url, f'CREATE DATABASE "{db_name}" TEMPLATE "{template}"')
    db_url = with_database(pg_url, db_name)
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    run_dir = workdir / label
    stack = Stack(run_dir, db_url, bootstrap, prefix, opts.workers)
    conn = None
    try:
        await stack.start()
        conn = await asyncpg.connect(**pg_args(db_url))
        await create_tenant(stack)
        primes = await prime(stack, conn)
        async with Kafka(bootstrap, prefix) as kafka:
            tag = "r"
            gen = LoadGenerator(dict(port=stack.ports["ingress"], to=NUMBER,
                                     path=f"/webhooks/simulator/{TENANT}/inbound", steps=steps,
                                     out=str(run_dir / "requests.tsv"), tag=tag,
                                     max_connections=opts.connections, timeout_s=opts.timeout,
                                     nice=opts.nice, stop_on_error=ramp), run_dir)
            roots = {**stack.pids(), **server_pids()}
            db_before = await db_counters(conn)
            cpu_before = tree_cpu_seconds(roots)
            origin = await gen.start()
            total_s = sum(s for _, s in steps)
            if ramp:
                monitor = asyncio.create_task(_ramp_monitor(gen, db_url, steps, origin, tag))
                while not monitor.done() and gen.running and time.time() < origin + total_s:
                    await asyncio.sleep(0.1)
                    stack.check()
                if monitor.done() and monitor.exception():
                    raise RuntimeError(f"ramp monitor: {monitor.exception()!r}")
            else:
                while time.time() < origin + total_s:
                    await asyncio.sleep(min(0.5, max(0.0, origin + total_s - time.time())))
                    stack.check()
            row.lag = await kafka.lag()
            gen.stop()
            await gen.wait(opts.timeout + 60)
            if ramp:
                monitor.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await monitor
            requests = read_results(run_dir / "requests.tsv")
            accepted = [r.mid for r in requests if r.ok] + primes
            replies = await drain(conn, TENANT, accepted, opts.drain, stack.check)
            drained_at = time.time()
            cpu_after = tree_cpu_seconds(roots)
            await asyncio.sleep(1.2)  # PostgreSQL flushes its statistics once a second
            db_after = await db_counters(conn)
            row.lag_after = await kafka.lag()
            row.outbound = {r["status"]: r["n"] for r in await conn.fetch(
                "SELECT status, count(*) AS n FROM outbound_message GROUP BY status ORDER BY status")}
        _figures(row, requests, accepted, replies, steps, drained_at, ramp)
        # Per reply delivered in the window (primes came before it): what one message through the
        # whole pipeline costs each process.
        row.delivered = sum(len(t) for m, t in replies.items() if m not in primes)
        row.cpu_ms = {name: None if cpu_before.get(name) is None or cpu_after.get(name) is None
                      else (cpu_after[name] - cpu_before[name]) * 1000 / max(1, row.delivered)
                      for name in roots}
        row.cpu_ms["loadgen"] = gen.done.get("cpu_s", math.nan) * 1000 / max(1, len(requests))
        row.db = {k: (db_after[k] - db_before[k]) / max(1, row.delivered) for k in db_before}
    except Exception as exc:  # reported in the table; the next rate still runs
        row.error = f"{type(exc).__name__}: {exc}"
    finally:
        if conn is not None:
            await conn.close()
        codes = await stack.stop()
        bad = {n: c for n, c in codes.items() if c not in (0, None)}
        if bad and not row.error:
            row.error = f"services exited with {bad}"
        with contextlib.suppress(Exception):
            await delete_topics(bootstrap, prefix)
        with contextlib.suppress(Exception):
            await admin_sql(pg_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    return row


DB_COUNTERS = {  # what PostgreSQL did, per reply delivered (WAL is the cluster's: nothing else runs)
    "commits": "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    "wal_bytes": "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')",
    "db_bytes": "SELECT pg_database_size(current_database())",
}


async def db_counters(conn) -> dict[str, float]:
    return {name: float(await conn.fetchval(sql)) for name, sql in DB_COUNTERS.items()}


def _figures(row: Row, requests: list[Request], accepted: list[str], replies: dict[str, list[float]],
             steps: list[tuple[float, float]], drained_at: float, ramp: bool) -> None:
    measured = [r for r in requests if r.step >= 1]  # step 0 is the warm-up
    ok = [r for r in measured if r.ok]
    row.accepted_per_s = rate_of(r.due + r.latency for r in ok if r.latency is not None)
    row.delivered_per_s = rate_of(replies[r.mid][0] for r in ok if r.mid in replies)
    latencies = [r.latency for r in ok if r.latency is not None]
    row.ok_p50, row.ok_p99 = percentile(latencies, 50), percentile(latencies, 99)
    row.late_p99 = percentile([r.late for r in measured if r.latency is not None], 99)
    row.not_ok = dict(sorted(Counter(r.status for r in measured if not r.ok).items()))
    answered, unanswered = e2e(ok, replies, drained_at)
    row.e2e_p50 = censored_percentile(answered, unanswered, 50)
    row.e2e_p99 = censored_percentile(answered, unanswered, 99)
    row.e2e_max = censored_percentile(answered, unanswered, 100)
    refused = [r.mid for r in requests if r.status.isdigit() and not r.ok]
    once = exactly_once(accepted, refused, replies)
    row.accepted, row.unanswered = len(accepted), len(once.missing)
    row.duplicated, row.refused_replied = len(once.duplicated), len(once.refused_replied)
    row.late_accepted = len(once.late_accepted)
    row.lost = row.unanswered if drained(row.lag_after, row.outbound) else 0
    if ramp:
        for i, (rate, _) in enumerate(steps):
            if i == 0:
                continue
            step = [r for r in requests if r.step == i]
            if not step:
                break
            answered, unanswered = e2e([r for r in step if r.ok], replies, drained_at)
            row.ramp.append((rate, len(step), sum(r.ok for r in step),
                             censored_percentile(answered, unanswered, 99),
                             sustained(step, replies, drained_at)))
        row.saturation = saturation([(rate, held) for rate, _, _, _, held in row.ramp])
        row.offered = row.ramp[-1][0] if row.ramp else math.nan


# --- output -------------------------------------------------------------------------------------

HEADERS = ["offered/s", "2xx/s", "replies/s", "2xx p50 ms", "2xx p99 ms", "e2e p50 ms", "e2e p99 ms",
           "e2e max ms", "lag", "unanswered", "dup", "non-2xx", *(f"{n} ms/msg" for n in
                                                                   (*SERVICES, *SERVERS, "loadgen"))]


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _fig(f: Figure) -> str:
    return ("≥" if f.at_least else "") + _num(f.value * 1000)


def table_rows(rows: list[Row]) -> list[list[str]]:
    out = []
    for r in rows:
        offered = (f"ramp→{_num(r.offered)}" if r.ramp or r.label == "ramp" else _num(r.offered))
        if r.error and not r.accepted:
            out.append([offered, f"failed: {r.error}"] + [""] * (len(HEADERS) - 2))
            continue
        out.append([offered, _num(r.accepted_per_s), _num(r.delivered_per_s), _num(r.ok_p50 * 1000),
                    _num(r.ok_p99 * 1000), _fig(r.e2e_p50), _fig(r.e2e_p99), _fig(r.e2e_max),
                    _num(sum(r.lag.values())), _num(r.unanswered), _num(r.duplicated),
                    _num(sum(r.not_ok.values())),
                    *(_num(r.cpu_ms.get(n), 2) for n in (*SERVICES, *SERVERS, "loadgen"))])
    return out


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"]
    lines += ["| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join(lines)


def print_report(rows: list[Row], opts: Options) -> None:
    print()
    print(f"pipeline: {opts.warmup:g} s warm-up + {opts.duration:g} s per rate, drain ≤ {opts.drain:g} s, "
          f"workers={opts.workers or 'default'}, loadgen nice {opts.nice}, ≤ {opts.connections} connections",
          flush=True)
    print(markdown(HEADERS, table_rows(rows)))
    for r in rows:
        notes = []
        if r.not_ok:
            notes.append("non-2xx " + ", ".join(f"{k}: {v}" for k, v in r.not_ok.items()))
        if any(r.lag.values()):
            notes.append("lag at window end " + ", ".join(f"{g}={n:,}" for g, n in r.lag.items() if n))
        if r.unanswered:
            queued = sum(r.lag_after.get(g, 0) for g in REPLY_PATH)
            notes.append(f"{r.unanswered:,} of {r.accepted:,} unanswered after the drain: " + (
                "LOST (the reply path had drained)" if r.lost else
                f"still on the way (reply path lag {queued:,}), not verified") +
                " (outbound " + ", ".join(f"{k}: {v:,}" for k, v in r.outbound.items()) + ")")
        if r.duplicated:
            notes.append(f"DUPLICATED replies to {r.duplicated:,} messages")
        if r.refused_replied:
            notes.append(f"REPLIED although refused (non-2xx): {r.refused_replied:,}")
        if r.late_accepted:
            notes.append(f"{r.late_accepted:,} timed out here but were accepted and answered later")
        if not math.isnan(r.late_p99) and r.late_p99 > 0.05:
            notes.append(f"load generator wrote late: p99 {r.late_p99 * 1000:,.0f} ms after due")
        if r.error:
            notes.append(f"error: {r.error}")
        if notes:
            print(f"  {r.label}: " + "; ".join(notes))
    measured = [r for r in rows if r.db]
    if measured:
        print("\nPostgreSQL per reply delivered (commits from pg_stat_database, WAL from the LSN, "
              "growth of the database's size):")
        print(markdown(["offered/s", "commits", "WAL KiB", "size KiB"],
                       [[_num(r.offered) if not r.ramp else f"ramp→{_num(r.offered)}",
                         _num(r.db["commits"], 1), _num(r.db["wal_bytes"] / 1024, 1),
                         _num(r.db["db_bytes"] / 1024, 1)] for r in measured]))
    for r in rows:
        if r.ramp:
            print(f"\nramp (+{opts.ramp_step:g} msg/s every {opts.ramp_every:g} s; held = all 2xx and "
                  f"webhook → carrier p99 ≤ {E2E_LIMIT_S * 1000:.0f} ms):")
            print(markdown(["msg/s", "sent", "2xx", "e2e p99 ms", "held"],
                           [[_num(rate), _num(sent), _num(ok), _fig(p99), "yes" if held else "no"]
                            for rate, sent, ok, p99, held in r.ramp]))
            print(f"saturation throughput: {_num(r.saturation)} msg/s" if r.saturation
                  else "saturation throughput: below the first ramp step")


# --- main ---------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", help="offered msg/s, comma-separated (default 100,250,500,1000,2000; "
                                   "'' for the ramp alone)")
    p.add_argument("--duration", type=float, help="measured seconds per rate (default 30)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per rate, not counted (default 5)")
    p.add_argument("--drain", type=float, help="at most this many seconds for replies after a rate (60)")
    p.add_argument("--workers", type=int, help="worker processes per service (PARLEY_WORKERS)")
    p.add_argument("--no-ramp", action="store_true", help="skip the ramp to saturation")
    p.add_argument("--ramp-start", type=float, default=50.0, help="first ramp step, msg/s (50)")
    p.add_argument("--ramp-step", type=float, default=50.0, help="msg/s added per ramp step (50)")
    p.add_argument("--ramp-every", type=float, help="seconds per ramp step (default 5)")
    p.add_argument("--timeout", type=float, default=10.0, help="webhook timeout from its due time (s)")
    p.add_argument("--connections", type=int, default=256, help="most keep-alive connections")
    p.add_argument("--nice", type=int, default=5, help="the load generator's niceness")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: rates 100,1000, 2 s warm-up, 5 s each, 2 s ramp steps, 20 s drain")
    p.add_argument("--keep", action="store_true", help="keep the service logs even when all went well")
    a = p.parse_args(argv)
    quick = a.quick
    rates = [float(x) for x in a.rates.split(",") if x.strip()] if a.rates is not None else (
        [100.0, 1000.0] if quick else [float(r) for r in RATES])
    if any(r <= 0 for r in rates):
        p.error("--rates: every rate must be above 0")
    pick = lambda value, full, short: value if value is not None else (short if quick else full)  # noqa: E731
    return Options(rates=rates, duration=pick(a.duration, 30.0, 5.0), warmup=pick(a.warmup, 5.0, 2.0),
                   drain=pick(a.drain, 60.0, 20.0), workers=a.workers, ramp=not a.no_ramp,
                   ramp_start=a.ramp_start, ramp_step=a.ramp_step,
                   ramp_every=pick(a.ramp_every, 5.0, 2.0), timeout=a.timeout, nice=a.nice,
                   connections=a.connections, keep=a.keep)


async def run_all(opts: Options, pg_url: str, bootstrap: str, workdir: Path) -> list[Row]:
    template = await migrated_template(pg_url, workdir / "migrate.log")
    rows = []
    try:
        for rate in opts.rates:
            label = f"{rate:g}"
            print(f"pipeline: {label} msg/s …", flush=True)
            rows.append(await run_once(label, [(rate, opts.warmup), (rate, opts.duration)], opts,
                                       pg_url, template, bootstrap, workdir))
        if opts.ramp:
            print("pipeline: ramp …", flush=True)
            steps = [(opts.ramp_start, opts.warmup)] + [
                (opts.ramp_start + i * opts.ramp_step, opts.ramp_every) for i in range(200)]
            rows.append(await run_once("ramp", steps, opts, pg_url, template, bootstrap, workdir, ramp=True))
    finally:
        with contextlib.suppress(Exception):
            await admin_sql(pg_url, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    return rows


def main(argv: list[str]) -> int:
    opts = parse_args(argv)
    pg_url, bootstrap = database_url(), kafka_bootstrap()
    if not (pg_url and bootstrap):
        if os.environ.get("PARLEY_BENCH_WRAPPED"):  # PARLEY_TEST_PROFILE=embedded: no servers started
            print("pipeline                     skipped: needs Kafka and PostgreSQL (not with "
                  "PARLEY_TEST_PROFILE=embedded)")
            return 0
        wrapper = str(REPO / "scripts/with-servers.sh")
        os.environ["PARLEY_BENCH_WRAPPED"] = "1"
        os.execv(wrapper, [wrapper, sys.executable, "-m", "bench.pipeline", *argv])
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    rows = asyncio.run(run_all(opts, pg_url, bootstrap, workdir))
    print_report(rows, opts)
    failed = any(r.failed for r in rows)
    keep_or_remove(workdir, failed or opts.keep)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
