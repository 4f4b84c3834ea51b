"""Several worker processes of one service on one host (PARLEY_WORKERS), so a service uses more
than one core: Python runs one thread of Python at a time per process.

`serve` calls `supervise` when the service is to have more than one worker. The supervisor binds
the listening socket once and starts each worker as a fresh interpreter of the same module
(`python -m services.router`), handing it the socket (uvicorn's `fd`), its index and
PARLEY_WORKERS=1. Every worker is a whole service: it serves HTTP on the shared socket (the
kernel spreads connections over the workers), and joins the service's consumer groups as a
member of its own (its index appended to the Kafka group.instance.id), so Kafka spreads the
partitions over them exactly as over replicas; per-subscriber order holds because a partition
has one reader at a time. Metrics are Prometheus' multiprocess mode: each worker writes its own
files in a directory the supervisor owns, and `/metrics` on any worker sums them all.

SIGTERM or SIGINT to the supervisor is passed to every worker, which stops gracefully as a single
process does; the supervisor exits once they all have, with the worst of their statuses. A worker
that dies otherwise (killed, crashed) is started again after a back-off pause; one that exits 2
or 3 (invalid settings, a failure waiting cannot fix) stops them all with its status, as a single
process would exit, instead of a restart loop.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import structlog

from libs.common.backoff import DEPENDENCY

log = structlog.get_logger("parley.workers")

INDEX_ENV = "PARLEY_WORKER_INDEX"  # set by the supervisor for each worker it starts
FD_ENV = "PARLEY_LISTEN_FD"
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's multiprocess mode
FATAL = (2, 3)  # serve's exit statuses for what restarting cannot fix


def available_cores() -> int:
    """The cores this process may run on (a container's cpuset, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def count(workers: int, bus: str) -> int:
    """PARLEY_WORKERS (0: one per available core); always one on the memory bus, whose topics live
    in the process (several processes would each have their own). The default is one: a process
    per container, scaled by replicas, is what Kubernetes and Compose schedule, restart and drain;
    on a host of its own a service may take every core."""
    if bus == "memory":
        return 1
    return workers or available_cores()


def index() -> int | None:
    """This worker's index when a supervisor started it, else None."""
    raw = os.environ.get(INDEX_ENV)
    return int(raw) if raw is not None and raw.isdigit() else None


def listen_fd() -> int | None:
    raw = os.environ.get(FD_ENV)
    return int(raw) if raw is not None and raw.isdigit() else None


def _module() -> str:
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    if spec is None or not spec.name:
        raise RuntimeError("PARLEY_WORKERS > 1 needs the service started as `python -m <module>`")
    return spec.name.removesuffix(".__main__")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # uvicorn's default backlog
    sock.set_inheritable(True)
    return sock


def supervise(workers: int, host: str, port: int) -> int:
    """Run `workers` worker processes of the `python -m` module this process was started as, until
    SIGTERM/SIGINT; returns the exit status."""
    try:
        sock = _listen(host, port)
    except OSError as exc:
        log.error("startup_failed", error=f"cannot listen on {host}:{port}: {exc}")
        return 3
    metrics_dir = tempfile.mkdtemp(prefix="parley-metrics-")
    module = _module()
    procs: dict[int, subprocess.Popen] = {}
    failures = dict.fromkeys(range(workers), 0)
    stopping: list[int] = []

    def start(i: int) -> None:
        env = {**os.environ, "PARLEY_WORKERS": "1", INDEX_ENV: str(i), FD_ENV: str(sock.fileno()),
               METRICS_ENV: metrics_dir}
        procs[i] = subprocess.Popen([sys.executable, "-m", module], env=env, pass_fds=(sock.fileno(),))
        log.info("worker_started", worker=i, pid=procs[i].pid)

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        for i in range(workers):
            start(i)
        while procs:
            time.sleep(0.2)
            for i, proc in list(procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                del procs[i]
                if stopping:
                    status = max(status, code if code >= 0 else 128 - code)  # -9: killed, 137
                elif code in FATAL:
                    log.error("worker_failed_stopping", worker=i, status=code)
                    status = code
                    stop(signal.SIGTERM, None)
                else:
                    failures[i] += 1
                    log.error("worker_exited_restarting", worker=i, status=code,
                              failures=failures[i])
                    time.sleep(DEPENDENCY.delay(failures[i]))
                    start(i)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for proc in procs.values():
            proc.kill()
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return status
