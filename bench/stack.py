"""The stack bench/pipeline.py measures, as deployed: the four services as separate processes with
the settings of deploy/k8s/base/configmap.yaml, a database per run copied from one migrated once,
the tenant, and the Kafka side (consumer lag, removing a run's topics).

The exceptions to the deployed settings: 127.0.0.1 and a port per service, one Kafka replica (one
broker), the simulated carrier on, and every carrier API URL pointed at 127.0.0.1 (the simulated
carrier calls none; nothing leaves the machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.replies import fetch_replies
from libs.common.testing.http import free_port

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("ingress", "router", "sender", "segmentation")
SERVERS = ("kafka", "postgres")
TENANT, NUMBER = "bench", "+15555550000"
ADMIN_TOKEN, SECRET_KEY = "bench-admin-token", "bench-secret-key"
OFFLINE_URL = "http://127.0.0.1:9"  # carrier APIs: the simulated carrier never calls them anyway


def replica_names(service: str, count: int = 1) -> list[str]:
    """The processes of a service run `count` times: its name alone, or `<service>-1` … `-<count>`."""
    return [service] if count == 1 else [f"{service}-{k}" for k in range(1, count + 1)]


def service_of(name: str) -> str:
    """The service a process of the stack runs (`router-2` → `router`)."""
    return name.partition("-")[0]


def group_lag(committed: Mapping[int, int | None], end: Mapping[int, int]) -> int:
    """Records not yet committed by a group, over the topic's partitions (no commit: from 0)."""
    return sum(max(0, high - max(0, committed.get(p) or 0)) for p, high in end.items())


def deployed_settings() -> dict[str, str]:
    import yaml

    data = yaml.safe_load((REPO / "deploy/k8s/base/configmap.yaml").read_text())["data"]
    return {k: str(v) for k, v in data.items()}


def service_env(db_url: str, bootstrap: str, prefix: str, port: int, ingress_url: str,
                data_dir: Path, workers: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(deployed_settings())
    env.update({k: OFFLINE_URL for k in env if k.endswith("_BASE_URL") and k != "PARLEY_PUBLIC_BASE_URL"})
    env.update({
        "PARLEY_HOST": "127.0.0.1", "PARLEY_PORT": str(port), "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_PUBLIC_BASE_URL": ingress_url, "PARLEY_KAFKA_BOOTSTRAP": bootstrap,
        "PARLEY_KAFKA_REPLICATION_FACTOR": "1", "PARLEY_TOPIC_PREFIX": prefix,
        "PARLEY_DATABASE_URL": db_url, "PARLEY_ADMIN_TOKEN": ADMIN_TOKEN,
        "PARLEY_SECRET_KEY": SECRET_KEY, "PARLEY_SIMULATOR": "true",
    })
    if workers is not None:
        env["PARLEY_WORKERS"] = str(workers)
    return env


def consumer_groups() -> list[tuple[str, str]]:
    """(group, topic) of every subscription of the four services."""
    from services.ingress.app import service as ingress
    from services.router.app import service as router
    from services.segmentation.app import service as segmentation
    from services.sender.app import service as sender

    return [(s.group, s.topic) for svc in (ingress(), router(), sender(), segmentation())
            for s in svc.subscriptions]


def server_pids() -> dict[str, int | None]:
    """The PostgreSQL and Kafka servers scripts/ started (their pid files), for CPU figures."""
    run = Path(os.environ.get("PARLEY_RUN_DIR", REPO / ".run"))
    out: dict[str, int | None] = {}
    for name in SERVERS:
        try:
            pid = int((run / name / "pid").read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            out[name] = None
            continue
        out[name] = pid if name.encode() in cmdline.lower() else None
    return out


def pg_args(url: str, database: str | None = None) -> dict:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return dict(host=u.host, port=u.port, user=u.username, password=u.password,
                database=database or u.database)


def with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def admin_sql(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(**pg_args(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def migrate(url: str, log: Path) -> None:
    """`parley migrate` on the database at `url`, as the deploy job runs it (the services do not)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PARLEY_DATABASE_URL"] = url
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "services", "migrate",
                                                    env=env, cwd=REPO, stdout=out, stderr=out)
        if await asyncio.wait_for(proc.wait(), 300) != 0:
            raise RuntimeError(f"migrations failed: see {log}")


async def migrated_template(url: str, log: Path) -> str:
    """A database migrated once; each run copies it."""
    name = "bench_tpl_" + uuid.uuid4().hex[:8]
    await admin_sql(url, f'CREATE DATABASE "{name}"')
    await migrate(with_database(url, name), log)
    return name


@dataclass
class Stack:
    """The four services, each its own process (tree), logging to files under `logs`. A process
    may be killed (SIGKILL, as a node dies) and started again on its port. `replicas` runs a
    service as several processes (`replica_names`), in the same consumer groups, each with its own
    port and PARLEY_INSTANCE_ID (its name), as the pods of one Deployment."""

    logs: Path
    db_url: str
    bootstrap: str
    prefix: str
    workers: int | None
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    killed: list[tuple[str, int | None]] = field(default_factory=list)  # (service, status), on purpose
    replicas: Mapping[str, int] = field(default_factory=dict)  # service → processes (default 1)

    @property
    def names(self) -> list[str]:
        """Every process of the stack, by service."""
        return [n for s in SERVICES for n in replica_names(s, self.replicas.get(s, 1))]

    def url(self, name: str) -> str:
        """A process's URL; a service's name means its first replica (they share one database)."""
        port = self.ports.get(name) or self.ports[replica_names(name, self.replicas.get(name, 1))[0]]
        return f"http://127.0.0.1:{port}"

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    async def start(self, timeout_s: float = 180) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in self.names}
        for name in self.names:
            await self.spawn(name)
        deadline = time.monotonic() + timeout_s
        for name in self.names:
            await self.wait_ready(name, max(0.0, deadline - time.monotonic()), check=self.check)

    async def spawn(self, name: str) -> None:
        """Start one process on its port; its output is appended to its log."""
        env = service_env(self.db_url, self.bootstrap, self.prefix, self.ports[name],
                          self.url("ingress"), self.logs / f"{name}-data", self.workers)
        if name != service_of(name):  # one of several replicas: its own static group member
            env["PARLEY_INSTANCE_ID"] = name
        with self.log_path(name).open("ab") as log:
            # Own session: a fallback SIGKILL reaches the service's worker processes too.
            self.procs[name] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", f"services.{service_of(name)}", env=env, cwd=REPO, stdout=log,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)

    async def ready(self, name: str, client) -> bool:
        import httpx

        try:
            return (await client.get(self.url(name) + "/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_ready(self, name: str, timeout_s: float = 180,
                         check: Callable[[], None] | None = None) -> float:
        """Seconds until `name` answers /readyz 200; raises if it exits first (or, with `check`,
        whatever `check` raises) or is not ready within `timeout_s`."""
        import httpx

        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as client:
            while not await self.ready(name, client):
                (check or functools.partial(self.check, name))()
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError(f"{name} not ready after {timeout_s:.0f} s")
                await asyncio.sleep(0.2)
        return time.monotonic() - started

    def check(self, *names: str) -> None:
        """Raise if a running service (of `names`, default all) has exited."""
        for name, proc in self.procs.items():
            if (not names or name in names) and proc.returncode is not None:
                raise RuntimeError(f"{name} exited with status {proc.returncode}")

    async def kill(self, name: str) -> None:
        """SIGKILL a service and its workers (a node lost); it stays down until `spawn`."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: its group id is its pid
        self.killed.append((name, await proc.wait()))

    def pids(self) -> dict[str, int | None]:
        return {name: proc.pid for name, proc in self.procs.items()}

    async def stop(self, grace_s: float = 40) -> dict[str, int | None]:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        return {name: proc.returncode for name, proc in self.procs.items()}


async def create_tenant(stack: Stack) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=30) as client:
        resp = await client.post(stack.url("router") + "/v1/tenants",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                 json={"id": TENANT, "name": "Bench", "brand": "Bench"})
        resp.raise_for_status()
        key = resp.json()["api_key"]
        resp = await client.post(stack.url("sender") + "/v1/numbers",
                                 headers={"Authorization": f"Bearer {key}"},
                                 json={"number": NUMBER, "carrier": "simulator", "is_default": True})
        resp.raise_for_status()


PRIMES = 3  # HELPs sent and answered before the clock starts: every consumer group has joined


async def prime(stack: Stack, conn) -> list[str]:
    """A few HELPs answered end to end before any figure: the consumer groups have joined."""
    import httpx

    ids = [f"prime-{k}" for k in range(PRIMES)]
    async with httpx.AsyncClient(timeout=30) as client:
        for k, mid in enumerate(ids):
            resp = await client.post(f"{stack.url('ingress')}/webhooks/simulator/{TENANT}/inbound",
                                     json={"from": f"+1415666{k:04d}", "to": NUMBER, "body": "HELP",
                                           "id": mid})
            resp.raise_for_status()
    deadline = time.monotonic() + 180
    while len(set(ids) & set(await fetch_replies(conn, TENANT))) < len(ids):
        stack.check()
        if time.monotonic() > deadline:
            raise RuntimeError("the first HELPs got no reply within 180 s")
        await asyncio.sleep(0.3)
    return ids


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """A run's topics, once its services have stopped (they would not stop, failing to commit)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-pipeline")
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()


class Kafka:
    """Consumer lag of every group (committed offsets against the topics' end offsets)."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        self.prefix = prefix
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-pipeline")
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-pipeline")
        self.groups = consumer_groups()

    async def __aenter__(self) -> Kafka:
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def lag(self) -> dict[str, int]:
        from aiokafka import TopicPartition

        names = sorted({self.prefix + topic for _, topic in self.groups})
        parts = {t["topic"]: [p["partition"] for p in t["partitions"]]
                 for t in await self.admin.describe_topics(names)}
        # Topics not there (yet) have nothing to lag behind.
        groups = [(g, t) for g, t in self.groups if parts.get(self.prefix + t)]
        topics = {self.prefix + t for _, t in groups}
        end = await self.consumer.end_offsets([TopicPartition(t, p) for t in topics for p in parts[t]])
        committed = await asyncio.gather(*(self.admin.list_consumer_group_offsets(f"{self.prefix}{g}.{t}")
                                           for g, t in groups))
        out = {}
        for (group, topic), offsets in zip(groups, committed, strict=True):
            name = self.prefix + topic
            out[f"{group}.{topic}"] = group_lag(
                {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == name},
                {tp.partition: high for tp, high in end.items() if tp.topic == name})
        return out
