"""One chaos run: the four services as separate processes with the deployed settings (bench/stack.py)
on Kafka and PostgreSQL, a carrier (tests/chaos/carrier.py) posting HELPs at a steady rate from
distinct phones, and faults injected one after another with steady traffic between them:

- `router`, `sender`, `segmentation`: the service is killed with SIGKILL (a node lost), stays down
  `service_down_s`, and is started again on its port;
- `kafka`: the broker is killed with SIGKILL, `kafka-stop`: stopped cleanly (SIGTERM); either way
  it stays down `broker_down_s` and comes back with `scripts/kafka.sh restart` (same data, ports
  and cluster id), the address every service was started with. `kafka+sender` (any killable
  service after the `+`): that service is also killed and started again while the broker is down;
- `postgres`: the database server is restarted (`scripts/postgres.sh restart`), when the run owns it.

After each fault the run waits until every service answers /readyz 200 again. A service that
exits other than by a kill is recorded and started again a second later, as its orchestrator
would. When the last gap is over the carrier sends no new message; its retries go on until each
message is accepted or given up, then every accepted message must have exactly one reply
(`bench/replies.py`).

`judge` says what went wrong, `figures` what was measured; both are pure, over a `Run`. Used by
tests/chaos/test_chaos.py (a short plan, part of `make test`) and `python -m tests.chaos`
(`make chaos`: a longer one that prints the figures).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import percentile
from bench.pipeline import markdown
from bench.replies import drain, exactly_once, out_of_order, reply_order
from bench.stack import NUMBER, TENANT, Stack, create_tenant, pg_args, prime, replica_names, service_of
from libs.common.testing.servers import ScriptBroker
from tests.chaos.carrier import Carrier, Message

KILLABLE = ("router", "sender", "segmentation")
# The services a plan may run as several replicas, and the log line each writes per unit of work
# (an inbound decided, a reply sent), by which the run tells that every replica took a share.
WORK = {"router": "decided", "sender": "send_sent"}
BROKER_FAULTS = ("kafka", "kafka-stop")
FAULTS = (*KILLABLE, *BROKER_FAULTS, *(f"{b}+{s}" for b in BROKER_FAULTS for s in KILLABLE), "postgres")
REVIVE_AFTER_S = 1.0  # a service that exited on its own is started again after this pause
READY_AGAIN_S = 180.0  # a bound on waiting for the stack after a fault, not a measurement


@dataclass(frozen=True)
class Plan:
    faults: tuple[str, ...]
    rate: float = 5.0  # new messages per second
    lead_s: float = 5.0  # steady traffic before the first fault
    gap_s: float = 5.0  # steady traffic after the stack is ready again, before the next fault
    service_down_s: float = 3.0
    broker_down_s: float = 10.0
    drain_s: float = 180.0  # a bound on waiting for the replies once the carrier is done
    limit: int = 5000  # most messages the carrier sends
    per_phone: int = 1  # messages each phone sends, one after another (Carrier.stream)
    # Processes per service (default 1), each its own name (`router-1`, `router-2`): the faults
    # then name one replica, e.g. `router-2`.
    replicas: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        several = {s for s, n in self.replicas.items() if n != 1}
        if several - set(WORK):
            raise ValueError(f"replicas of {sorted(several - set(WORK))}: only of {', '.join(WORK)}")
        unknown = set(self.faults) - set(self.known_faults)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")

    @property
    def known_faults(self) -> tuple[str, ...]:
        """FAULTS, with each killable service replaced by its replicas where it has several."""
        kill = [n for s in KILLABLE for n in replica_names(s, self.replicas.get(s, 1))]
        return (*kill, *BROKER_FAULTS, *(f"{b}+{s}" for b in BROKER_FAULTS for s in kill), "postgres")


@dataclass
class Fault:
    name: str
    started_at: float  # wall clock, when injected
    restarted: str = ""  # what was started again: a service, "kafka" or "postgres"
    ready_s: float | None = None  # its start → ready (/readyz 200; the broker: kafka.sh restart)
    recovered_at: float | None = None  # every service answered /readyz 200 again
    error: str | None = None  # the stack did not recover

    @property
    def window(self) -> tuple[float, float]:
        return self.started_at, self.recovered_at or math.inf


@dataclass
class Run:
    messages: list[Message]
    replies: dict[str, list[float]]
    faults: list[Fault]
    exits: list[str] = field(default_factory=list)  # services that exited other than by a kill
    startup_s: float = math.nan  # the four services' first start → all ready
    logs: Path | None = None
    order: dict[str, int] = field(default_factory=dict)  # message id → the carrier's seq of its reply
    work: dict[str, int] = field(default_factory=dict)  # replica → units of work it logged (WORK)


# --- verdict and figures (pure) -----------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    not_accepted: list[str]  # given up, or a final 4xx
    missing: list[str]  # accepted, no reply
    duplicated: list[str]  # more than one reply
    refused_replied: list[str]  # never accepted, yet replied
    bad_answers: list[str]  # timeouts, connection errors, statuses but 2xx and 503: by kind
    exits: list[str]
    unrecovered: list[str]
    reordered: list[str] = field(default_factory=list)  # a phone's replies not in its messages' order
    idle: list[str] = field(default_factory=list)  # replicas that did no work

    @property
    def failures(self) -> list[str]:
        parts = [("messages never accepted", self.not_accepted),
                 ("accepted without a reply", self.missing),
                 ("replied more than once", self.duplicated),
                 ("replied although never accepted", self.refused_replied),
                 ("replies out of the subscriber's order", self.reordered),
                 ("replicas that handled nothing", self.idle),
                 ("answers other than 2xx or 503", self.bad_answers),
                 ("services that exited other than by a kill", self.exits),
                 ("faults the stack did not recover from", self.unrecovered)]
        return [f"{what} ({len(items)}): {', '.join(items[:10])}{' …' if len(items) > 10 else ''}"
                for what, items in parts if items]


def judge(run: Run) -> Verdict:
    accepted = [m.mid for m in run.messages if m.accepted]
    refused = [m.mid for m in run.messages if not m.accepted]
    once = exactly_once(accepted, refused, run.replies)
    return Verdict(not_accepted=refused, missing=once.missing, duplicated=once.duplicated,
                   refused_replied=once.refused_replied, bad_answers=bad_answers(run),
                   exits=list(run.exits),
                   unrecovered=[f"{f.name}: {f.error}" for f in run.faults if f.error],
                   reordered=out_of_order(by_phone(run.messages), run.order),
                   idle=sorted(name for name, count in run.work.items() if not count))


def by_phone(messages: list[Message]) -> dict[str, list[str]]:
    """Each phone's accepted messages in the order it sent them."""
    out: dict[str, list[str]] = {}
    for m in messages:
        if m.accepted:
            out.setdefault(m.phone, []).append(m.mid)
    return out


def origin(run: Run) -> float:
    """The wall-clock time of the carrier's first try: +0 s in every figure."""
    return min((m.attempts[0].sent_at for m in run.messages if m.attempts), default=0.0)


def bad_answers(run: Run) -> list[str]:
    """Answers other than 2xx or 503, by kind: how many, to how many messages, sent when."""
    start, by_status = origin(run), {}
    for m in run.messages:
        for a in m.attempts:
            if not (a.ok or a.status == "503"):
                by_status.setdefault(a.status, []).append((m.mid, a.sent_at - start))
    return [f"{status} ×{len(seen)} to {len({mid for mid, _ in seen})} messages, sent between "
            f"+{min(t for _, t in seen):.1f} s and +{max(t for _, t in seen):.1f} s"
            for status, seen in sorted(by_status.items())]
def reply_latencies(run: Run, outside: bool = True) -> list[float]:
    """Seconds from the accepted webhook to its first reply at the carrier, of the messages whose
    first try and reply fall outside every fault window (injected → every service ready again)."""
    out = []
    for m in run.messages:
        accepted, times = m.accepted, run.replies.get(m.mid)
        if accepted is None or not times:
            continue
        span = (m.attempts[0].sent_at, times[0])
        if outside and any(span[0] <= end and span[1] >= start for start, end in
                           (f.window for f in run.faults)):
            continue
        out.append(times[0] - accepted.sent_at)
    return out


def figures(run: Run) -> dict[str, object]:
    verdict = judge(run)
    statuses = Counter(a.status for m in run.messages for a in m.attempts)
    latencies = reply_latencies(run)
    return {
        "messages": len(run.messages),
        "accepted": sum(1 for m in run.messages if m.accepted),
        "lost": len(verdict.missing),
        "duplicated": len(verdict.duplicated),
        "never accepted": len(verdict.not_accepted),
        "503s": statuses.get("503", 0),
        "messages that saw a 503": sum(1 for m in run.messages if "503" in m.statuses()),
        "timeouts": statuses.get("timeout", 0),
        "connection errors": sum(n for s, n in statuses.items() if s.startswith("error")),
        "other non-2xx": sum(n for s, n in statuses.items() if s[0].isdigit()
                             and s != "503" and not s.startswith("2")),
        "unexpected exits": len(run.exits),
        "phones": len({m.phone for m in run.messages}),
        "replies out of order": len(verdict.reordered),
        **{f"work logged by {name}": count for name, count in sorted(run.work.items())},
        "reply p50 ms (outside faults)": percentile(latencies, 50) * 1000,
        "reply p99 ms (outside faults)": percentile(latencies, 99) * 1000,
        "replies outside faults": len(latencies),
    }


def _num(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def report(run: Run) -> str:
    start = origin(run)
    lines = [markdown(["figure", "value"], [[k, _num(v)] for k, v in figures(run).items()]), ""]
    rows = [[f.name, f"+{f.started_at - start:,.1f}", f.restarted or "-",
             _num(f.ready_s) if f.ready_s is not None else "-",
             f"+{f.recovered_at - start:,.1f}" if f.recovered_at else "not recovered"]
            for f in run.faults]
    lines.append(markdown(["fault", "at s", "restarted", "time to ready s", "all ready again at s"], rows))
    lines.append(f"\nfirst start of every process → all ready: {_num(run.startup_s)} s")
    verdict = judge(run)
    lines += ["", *(f"FAIL: {line}" for line in verdict.failures)] if verdict.failures else ["", "PASS"]
    return "\n".join(lines)


def log_excerpts(logs: Path, lines: int = 12) -> str:
    """The last warnings and errors of each process's log (JSON lines), for a failure report."""
    out = []
    for path in sorted(logs.glob("*.log")):
        picked = [line for line in path.read_text(errors="replace").splitlines()
                  if _is_problem(line)][-lines:]
        if picked:
            out.append(f"--- {path.name} ---\n" + "\n".join(picked))
    return "\n".join(out)


def logged_work(logs: Path, names: list[str]) -> dict[str, int]:
    """Of the processes `names` (replicas of WORK's services), how many units of work each logged
    over the whole run, its restarts included (one log file per process, appended to)."""
    out = {}
    for name in names:
        path, event = logs / f"{name}.log", WORK[service_of(name)]
        text = path.read_text(errors="replace") if path.exists() else ""
        out[name] = sum(1 for line in text.splitlines() if _event(line) == event)
    return out


def _event(line: str) -> str | None:
    try:
        return json.loads(line).get("event")
    except (ValueError, AttributeError):
        return None


def _is_problem(line: str) -> bool:
    """A JSON line at warning level or above; of the plain ones (tracebacks, aiokafka's and
    uvicorn's own lines) those that name an error or a failure."""
    try:
        level = json.loads(line).get("level", "")
    except (ValueError, AttributeError):
        return any(word in line for word in ("Error", "Traceback", "failed", "Exiting"))
    return level in ("warning", "error", "critical")


# --- the run ------------------------------------------------------------------------------------

class ExitWatch:
    """Notices any running service that exits (the stack's own kills take it out of `procs` first),
    records it and starts it again after REVIVE_AFTER_S."""

    def __init__(self, stack: Stack, origin: float) -> None:
        self.stack, self.origin = stack, origin
        self.exits: list[str] = []
        self._seen: set[int] = set()
        self._tasks: list[asyncio.Task] = []

    async def _watch(self) -> None:
        while True:
            self.look()
            await asyncio.sleep(0.2)

    def look(self, revive: bool = True) -> None:
        for name, proc in list(self.stack.procs.items()):
            if proc.returncode is not None and proc.pid not in self._seen:
                self._seen.add(proc.pid)
                self.exits.append(f"{name} (pid {proc.pid}) exited with status {proc.returncode} "
                                  f"at +{time.time() - self.origin:.1f} s")
                if revive:
                    self._tasks.append(asyncio.create_task(self._revive(name, proc)))

    async def _revive(self, name: str, proc: asyncio.subprocess.Process) -> None:
        await asyncio.sleep(REVIVE_AFTER_S)
        if self.stack.procs.get(name) is proc:
            await self.stack.spawn(name)

    def __enter__(self) -> ExitWatch:
        self._tasks.append(asyncio.create_task(self._watch()))
        return self

    def __exit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        self.look(revive=False)


async def _all_ready(stack: Stack) -> None:
    """Every process answers /readyz 200, whichever one runs now (exits are ExitWatch's)."""
    await asyncio.gather(*(_ready(stack, name) for name in stack.names))


async def _ready(stack: Stack, name: str) -> None:
    await stack.wait_ready(name, READY_AGAIN_S, check=lambda: None)


def describe(name: str) -> str:
    base, _, also = name.partition("+")
    what = {"kafka": "kill -9 kafka", "kafka-stop": "stop kafka", "postgres": "restart postgres"}.get(
        base, f"kill -9 {base}")
    return f"{what}, kill -9 {also} and start it meanwhile" if also else what


async def inject(name: str, plan: Plan, stack: Stack, broker: ScriptBroker,
                 restart_postgres: Callable[[], Awaitable[None]] | None) -> Fault:
    fault = Fault(describe(name), time.time())
    base, _, also = name.partition("+")
    try:
        if service_of(base) in KILLABLE:
            await stack.kill(base)
            await asyncio.sleep(plan.service_down_s)
            started = time.monotonic()
            await stack.spawn(base)
            await _ready(stack, base)
        elif base in BROKER_FAULTS:
            await (broker.kill() if base == "kafka" else broker.stop(keep=True))
            if also:  # a service (re)started while the broker is away
                await stack.kill(also)
                await stack.spawn(also)
            await asyncio.sleep(plan.broker_down_s)
            started = time.monotonic()
            await broker.restart()
        else:
            if restart_postgres is None:
                raise RuntimeError("this run does not own its PostgreSQL server")
            started = time.monotonic()
            await restart_postgres()
        fault.restarted = base.removesuffix("-stop")
        fault.ready_s = time.monotonic() - started
        await _all_ready(stack)
        fault.recovered_at = time.time()
    except Exception as exc:  # reported with the verdict; the run goes on
        fault.error = f"{type(exc).__name__}: {exc}"
    return fault


async def run(plan: Plan, db_url: str, broker: ScriptBroker, workdir: Path,
              restart_postgres: Callable[[], Awaitable[None]] | None = None,
              progress: Callable[[str], None] = lambda line: None) -> Run:
    """The plan against a stack on `db_url` (migrated) and `broker`; the stack is stopped after.
    `progress` hears of each fault as it is injected and recovered from."""
    import asyncpg

    stack = Stack(workdir / "logs", db_url, broker.bootstrap, f"chaos{uuid.uuid4().hex[:8]}.", None,
                  replicas=dict(plan.replicas))
    started = time.monotonic()
    result = Run([], {}, [], logs=stack.logs)
    try:
        await stack.start()
        result.startup_s = time.monotonic() - started
        await create_tenant(stack)
        conn = await asyncpg.connect(**pg_args(db_url))
        try:
            await prime(stack, conn)
        finally:
            await conn.close()
        carrier = Carrier(f"{stack.url('ingress')}/webhooks/simulator/{TENANT}/inbound", NUMBER)
        with ExitWatch(stack, time.time()) as watch:
            done = asyncio.Event()
            stream = asyncio.create_task(carrier.stream(plan.rate, done, plan.limit, "chaos",
                                                        plan.per_phone))
            await asyncio.sleep(plan.lead_s)
            for name in plan.faults:
                progress(f"  +{time.time() - watch.origin:,.0f} s: {describe(name)} …")
                fault = await inject(name, plan, stack, broker, restart_postgres)
                result.faults.append(fault)
                progress(f"  +{time.time() - watch.origin:,.0f} s: " + (
                    f"not recovered: {fault.error}" if fault.error else "every service ready again"))
                await asyncio.sleep(plan.gap_s)
            done.set()
            result.messages = await stream
            conn = await asyncpg.connect(**pg_args(db_url))
            try:
                accepted = [m.mid for m in result.messages if m.accepted]
                result.replies = await drain(conn, TENANT, accepted, plan.drain_s)
                result.order = await reply_order(conn, TENANT)
            finally:
                await conn.close()
        result.exits = watch.exits
    finally:
        codes = await stack.stop()
        result.exits += [f"{name} exited with status {code} on SIGTERM at the end"
                         for name, code in codes.items() if code != 0 and
                         not any(e.startswith(f"{name} ") for e in result.exits)]
        result.work = logged_work(stack.logs, [n for n in stack.names if n != service_of(n)])
    return result

