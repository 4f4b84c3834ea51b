"""A service started while its database or broker cannot be reached comes up anyway: /healthz 200,
/readyz 503 naming what it waits for, its routes 503 with Retry-After, and it becomes ready once
they answer; SIGTERM meanwhile still stops it with status 0. Bad configuration exits at once with
a non-zero status naming the setting. Real processes, started as Kubernetes and Compose do; the
database and the broker are reached through a TCP gate the test opens and shuts."""

from __future__ import annotations

import sys
import uuid

import pytest
from sqlalchemy.engine import make_url

from libs.common.testing.profiles import PRODUCTION, fresh_postgres, production_env
from libs.common.testing.servers import TcpGate
from tests.deploy.processes import Process, free_port, http, service_env

ADMIN = {"Authorization": "Bearer test-admin-token"}
SIMULATED_TEXT = {"from": "+15555550100", "to": "+15555550000", "body": "HELP"}
# (service, a route that needs the database or the bus, what it answers once ready)
ROUTES = [
    ("router", ("GET", "/v1/tenants", {"headers": ADMIN}), 200),
    ("ingress", ("POST", "/webhooks/simulator/nobody/inbound", {"json": SIMULATED_TEXT}), 404),
    ("sender", ("GET", "/v1/numbers", {"headers": ADMIN}), 403),
    ("segmentation", ("GET", "/v1/segments", {"headers": ADMIN}), 403),
]


@pytest.fixture
def servers(profile):
    if profile != PRODUCTION:
        pytest.skip("waits for a real PostgreSQL and Kafka (production profile)")
    return production_env()


def gated_env(tmp_path, port: int, db_gate: TcpGate, bus_gate: TcpGate, db_url: str, **extra: str):
    return service_env(
        tmp_path, port, PARLEY_BUS="kafka", PARLEY_KAFKA_BOOTSTRAP=f"127.0.0.1:{bus_gate.port}",
        PARLEY_DATABASE_URL=make_url(db_url).set(host="127.0.0.1", port=db_gate.port)
        .render_as_string(hide_password=False),
        PARLEY_TOPIC_PREFIX=f"s{uuid.uuid4().hex[:10]}.", PARLEY_ADMIN_TOKEN="test-admin-token", **extra)


def gate_to(address: str) -> TcpGate:
    host, port = address.rsplit(":", 1)
    return TcpGate(host, int(port), free_port())


async def readiness(port: int) -> dict | None:
    resp = await http(port, "GET", "/readyz")
    return None if resp is None else {"code": resp.status_code, **resp.json()}


@pytest.mark.parametrize("name, route, answer", ROUTES, ids=[r[0] for r in ROUTES])
async def test_a_service_started_before_its_database_and_broker_waits_for_them(
        servers, tmp_path, name, route, answer):
    url, bootstrap = servers
    method, path, kwargs = route
    async with fresh_postgres(url) as db_url, gate_to(f"{make_url(db_url).host}:{make_url(db_url).port}") \
            as db_gate, gate_to(bootstrap) as bus_gate:
        port = free_port()
        proc = Process([sys.executable, "-m", f"services.{name}"],
                       gated_env(tmp_path, port, db_gate, bus_gate, db_url, PARLEY_MIGRATE_ON_START="true"))
        try:
            assert (await proc.until(lambda: http(port, "GET", "/healthz"), "/healthz")).status_code == 200

            async def database_down():
                state = await readiness(port)
                return state if db_gate.refused >= 3 and state["checks"]["database"].startswith(
                    "down: ") else None

            state = await proc.until(database_down, "the database reported down, tried 3 times")
            assert (state["code"], state["status"], state["checks"]["bus"]) == (503, "starting", "waiting")
            refused = await http(port, method, path, **kwargs)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "5", refused.text
            assert refused.json()["code"] == "unavailable" and "database" in refused.json()["detail"]

            db_gate.forward()

            async def bus_down():
                state = await readiness(port)
                checks = state["checks"]
                return state if bus_gate.refused >= 3 and checks["database"] == "ok" and checks[
                    "bus"].startswith("down: ") else None

            state = await proc.until(bus_down, "the database up, the bus reported down, tried 3 times")
            assert state["code"] == 503
            assert (await http(port, method, path, **kwargs)).status_code == 503

            bus_gate.forward()
            state = await proc.until(lambda: _ready(port), "/readyz 200")
            assert state["checks"] == {"database": "ok", "bus": "ok"}
            assert (await http(port, method, path, **kwargs)).status_code == answer
        finally:
            code = await proc.stop_async()
    assert code == 0, proc.output()
    # Once per state change, not once per attempt (each gate refused three or more).
    assert [e["dependency"] for e in proc.named("dependency_down")] == ["database", "bus"], proc.output()
    assert [e["dependency"] for e in proc.named("dependency_up")] == ["database", "bus"]
    assert len(proc.named("started")) == 1


async def _ready(port: int) -> dict | None:
    state = await readiness(port)
    return state if state and state["code"] == 200 else None


async def test_sigterm_while_waiting_for_the_database_exits_zero(tmp_path):
    """No server needed: nothing ever answers behind the gates."""
    async with gate_to("127.0.0.1:9") as db_gate, gate_to("127.0.0.1:9") as bus_gate:
        port = free_port()
        env = gated_env(tmp_path, port, db_gate, bus_gate, "postgresql+asyncpg://parley@127.0.0.1/parley")
        proc = Process([sys.executable, "-m", "services.router"], env)

        async def waiting():
            state = await readiness(port)
            return db_gate.refused >= 2 and state and state["status"] == "starting"

        await proc.until(waiting, "the database reported down")
        assert await proc.stop_async() == 0, proc.output()
    assert [e["event"] for e in proc.events() if e.get("event") in ("started", "stopped")] == ["stopped"]


@pytest.mark.parametrize("env, status, names", [
    ({"PARLEY_BUS": "kafka"}, 2, "PARLEY_DATABASE_URL"),
    ({"PARLEY_DATABASE_URL": "not a url"}, 2, "PARLEY_DATABASE_URL"),
    ({"PARLEY_DATABASE_URL": "postgresql://parley@127.0.0.1/parley"}, 2, "PARLEY_DATABASE_URL"),
    ({"PARLEY_BUS": "kafka", "PARLEY_DATABASE_URL": "postgresql+asyncpg://parley@127.0.0.1:9/parley",
      "PARLEY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, 3, "PARLEY_KAFKA_SASL_USERNAME"),
], ids=["kafka bus without a shared database", "malformed database url", "synchronous driver",
        "sasl without credentials"])
def test_bad_configuration_exits_at_once_naming_the_setting(tmp_path, env, status, names):
    proc = Process([sys.executable, "-m", "services.router"], service_env(tmp_path, free_port(), **env))
    assert proc.finish() == status, proc.output()
    (failure,) = proc.named("invalid_settings" if status == 2 else "startup_failed")
    assert names in str(failure), proc.output()
    if status == 2:
        assert "Started server process" not in proc.output()  # refused before serving


async def test_a_database_that_does_not_exist_is_a_misconfiguration_not_an_outage(servers, tmp_path):
    url, bootstrap = servers
    missing = make_url(url).set(database=f"missing_{uuid.uuid4().hex[:8]}").render_as_string(False)
    proc = Process([sys.executable, "-m", "services.router"], service_env(
        tmp_path, free_port(), PARLEY_BUS="kafka", PARLEY_KAFKA_BOOTSTRAP=bootstrap,
        PARLEY_DATABASE_URL=missing))
    assert proc.finish() == 3, proc.output()
    (failure,) = proc.named("startup_failed")
    assert "does not exist" in failure["error"]
    assert proc.named("dependency_down") == []


async def test_the_migration_job_waits_for_the_database_too(servers, tmp_path):
    url, _ = servers
    async with fresh_postgres(url) as db_url, gate_to(f"{make_url(db_url).host}:{make_url(db_url).port}") \
            as db_gate:
        gated = make_url(db_url).set(host="127.0.0.1", port=db_gate.port).render_as_string(False)
        proc = Process([sys.executable, "-m", "services", "migrate"], service_env(
            tmp_path, free_port(), PARLEY_DATABASE_URL=gated))

        async def tried_three_times():
            return db_gate.refused >= 3

        await proc.until(tried_three_times, "three tries of the database")
        db_gate.forward()

        async def exited():
            return proc.proc.poll() is not None

        await proc.until_exit(exited)
    assert proc.finish() == 0, proc.output()
    assert "migrations applied" in proc.output()
    assert [e["dependency"] for e in proc.named("dependency_down")] == ["database"]
