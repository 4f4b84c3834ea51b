"""README "Run the services one by one": the four services as separate processes on Kafka and
PostgreSQL, with exactly the environment that section exports, answer a HELP sent through the
ingress in the sender's simulated outbox; and each runs on the port that section gives it.

The section's block is parsed, so the doc cannot drift from what is tested. Only what keeps this
test apart from others on the machine is added: free ports, its own data directory, topic prefix
and database.
"""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path

import pytest

from libs.common.testing.app import eventually
from libs.common.testing.profiles import PRODUCTION, fresh_postgres, production_env
from tests.deploy.processes import Process, free_port, http

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("ingress", "router", "sender", "segmentation")
PHONE = "+15555550100"


def readme_block() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- run-apart:start -->")[1].split("<!-- run-apart:end -->")[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("```")]


def exported() -> dict[str, str]:
    return dict(m.groups() for line in readme_block() if (m := re.match(r"export (\w+)=(\S+)$", line)))


def commands() -> dict[str, int]:
    """{service: the port its comment gives}, from `.venv/bin/python -m services.X  # :PORT …`."""
    found = (re.match(r"\.venv/bin/python -m services\.(\w+)\s+# :(\d+)\s", line) for line in readme_block())
    return {m.group(1): int(m.group(2)) for m in found if m}


def expand(value: str, known: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)", lambda m: known[m.group(1)], value)


def test_the_section_starts_the_servers_then_each_service_once_on_its_own_port():
    lines = readme_block()
    assert lines[0].startswith("scripts/postgres.sh start && scripts/kafka.sh start")
    assert lines[1].startswith("set -a; . .run/postgres.env; . .run/kafka.env; set +a")
    assert set(commands()) == set(SERVICES)
    for name, port in commands().items():
        main = (REPO / "services" / name / "__main__.py").read_text()
        assert f"default_port={port})" in main, name
    assert len(set(commands().values())) == len(SERVICES)
    env = exported()
    assert (env["PARLEY_BUS"], env["PARLEY_DEMO"]) == ("kafka", "true")
    assert env["PARLEY_LINK_BASE_URL"].endswith(f":{commands()['ingress']}")
    assert {"PARLEY_KAFKA_BOOTSTRAP", "PARLEY_DATABASE_URL"} <= set(env)


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_run_alone_takes_its_own_port(tmp_path, name):
    """Without PARLEY_PORT. The port may be taken on a shared machine: then the failed bind names it."""
    port = commands()[name]
    proc = Process([sys.executable, "-m", f"services.{name}"],
                   {"PARLEY_DATA_DIR": str(tmp_path), "PARLEY_LOG_FORMAT": "json"})
    proc.wait_for(lambda: f"127.0.0.1:{port}" in proc.output() or f"'127.0.0.1', {port}" in proc.output(),
                  f"port {port}")
    proc.stop()


async def test_the_four_services_run_apart_as_the_readme_says_and_answer_help(profile, tmp_path):
    if profile != PRODUCTION:
        pytest.skip("the production shape: Kafka and PostgreSQL")
    url, bootstrap = production_env()
    async with fresh_postgres(url) as db_url:
        known = {"PARLEY_TEST_DATABASE_URL": db_url, "PARLEY_TEST_KAFKA_BOOTSTRAP": bootstrap}
        env = {name: expand(value, known) for name, value in exported().items()}
        isolation = {"PARLEY_DATA_DIR": str(tmp_path), "PARLEY_TOPIC_PREFIX": f"a{uuid.uuid4().hex[:10]}."}
        ports = {name: free_port() for name in commands()}
        procs = {name: Process([sys.executable, "-m", f"services.{name}"],
                               {**env, **isolation, "PARLEY_PORT": str(port)})
                 for name, port in ports.items()}
        try:
            for name, proc in procs.items():
                await proc.until(lambda port=ports[name]: _ready(port), f"{name} /readyz 200")
            key = (tmp_path / "demo-api-key").read_text().strip()
            tenant = await http(ports["router"], "GET", "/v1/tenants/demo",
                                headers={"Authorization": f"Bearer {key}"})
            assert tenant.status_code == 200, tenant.text

            async def accepted():
                resp = await http(ports["ingress"], "POST", "/webhooks/simulator/demo/inbound",
                                  json={"from": PHONE, "to": "+15555550000", "body": "HELP"})
                return resp is not None and resp.status_code == 200

            await eventually(accepted, timeout=60, interval=0.5)

            async def replied():
                resp = await http(ports["sender"], "GET", "/simulator/demo/outbox", params={"to": PHONE})
                return resp is not None and resp.status_code == 200 and resp.json()

            (reply, *_) = await eventually(replied, timeout=90, interval=0.2)
            assert (reply["from"], reply["to"]) == ("+15555550000", PHONE)
            assert "HELP" in reply["body"] or "help" in reply["body"].lower(), reply
        finally:
            codes = {name: await proc.stop_async() for name, proc in procs.items()}
    assert codes == dict.fromkeys(procs, 0), {n: p.output()[-3000:] for n, p in procs.items()}


async def _ready(port: int) -> bool:
    resp = await http(port, "GET", "/readyz")
    return resp is not None and resp.status_code == 200
