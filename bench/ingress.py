"""Ingress: carrier webhooks accepted per second and the time from request to 200, with signature
checks on, each event durably on the bus (Kafka: acked by all in-sync replicas) before the 200.

The ingress service runs alone under uvicorn (one worker) in a subprocess on 127.0.0.1; a load
generator in a second process keeps a number of keep-alive connections busy with unique, signed
messages (Twilio: HMAC-SHA1 form posts; Telnyx: Ed25519-signed JSON) for a fixed time per phase
(PHASES: saturated with 32 connections, then 2 connections for the response time without a queue),
and times each request from its first byte written to the last byte of the answer read. All of it
shares this machine's cores with the broker and the database. With
PARLEY_TEST_KAFKA_BOOTSTRAP and PARLEY_TEST_DATABASE_URL set (`make bench` sets them) it runs on
Kafka + PostgreSQL and then counts the events on the topic; otherwise on the memory bus + SQLite.

    python -m bench.ingress
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from itertools import count
from pathlib import Path
from urllib.parse import urlencode

from bench.common import database_url, kafka_bootstrap, ms, percentile, read_response, report

# (carrier, connections, seconds): saturated, then a light load for the unqueued response time.
PHASES = [("twilio", 32, 12.0), ("telnyx", 32, 8.0), ("twilio", 2, 5.0)]
TENANT = "bench"
TWILIO_TOKEN = "bench-twilio-token"
TELNYX_SEED = bytes(range(32))
SECRET_KEY = "bench-secret-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The load generator (its own process) ---------------------------------------------------------

def twilio_request(n: int, port: int) -> bytes:
    path = f"/webhooks/twilio/{TENANT}/inbound"
    params = {"MessageSid": f"SM{n:032x}", "AccountSid": "ACbench", "From": f"+1415555{n % 10000:04d}",
              "To": "+14155550000", "Body": f"YES {n}", "NumMedia": "0", "NumSegments": "1"}
    signed = f"http://127.0.0.1:{port}{path}" + "".join(k + params[k] for k in sorted(params))
    signature = base64.b64encode(hmac.new(TWILIO_TOKEN.encode(), signed.encode(), hashlib.sha1).digest())
    body = urlencode(params).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature.decode()}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def telnyx_request(n: int, port: int, key) -> bytes:
    path = f"/webhooks/telnyx/{TENANT}/inbound"
    body = json.dumps({"data": {"event_type": "message.received", "id": str(uuid.uuid4()),
                                "occurred_at": "2026-11-20T15:04:05+00:00",
                                "payload": {"id": f"bench-{n}", "text": f"YES {n}", "parts": 1,
                                            "from": {"phone_number": f"+1415555{n % 10000:04d}"},
                                            "to": [{"phone_number": "+14155550000"}]}}}).encode()
    stamp = str(int(time.time()))
    signature = base64.b64encode(key.sign(stamp.encode() + b"|" + body).signature).decode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"telnyx-timestamp: {stamp}\r\ntelnyx-signature-ed25519: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _connection(port: int, make, numbers, deadline: float, latencies: list[float],
                      statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            request = make(next(numbers))
            started = time.perf_counter()
            writer.write(request)
            status, _ = await read_response(reader)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def generate(carrier: str, port: int, connections: int, seconds: float, first: int) -> dict:
    from nacl.signing import SigningKey

    key = SigningKey(TELNYX_SEED)
    make = (lambda n: twilio_request(n, port)) if carrier == "twilio" else (
        lambda n: telnyx_request(n, port, key))
    numbers = count(first)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_connection(port, make, numbers, deadline, latencies, statuses)
                           for _ in range(connections)))
    return {"elapsed": time.perf_counter() - started, "latencies": latencies,
            "statuses": {str(k): v for k, v in statuses.items()}}


def load_main(carrier: str, port: int, connections: int, seconds: float, first: int) -> None:
    print(json.dumps(asyncio.run(generate(carrier, port, connections, seconds, first))))


# The orchestrator ------------------------------------------------------------------------------

async def fresh_postgres(url: str) -> tuple[str, str]:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = "bench_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                                 database=parsed.database)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return parsed.set(database=name).render_as_string(hide_password=False), name


async def drop_postgres(url: str, name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                                 database=parsed.database)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def set_up_tenant(db_url: str) -> None:
    from nacl.signing import SigningKey

    from libs.common.db.migrate import upgrade
    from libs.common.db.models.tenancy import CarrierCredential, Tenant
    from libs.common.db.session import make_engine, make_sessionmaker
    from libs.common.events.base import utcnow
    from libs.common.secrets import CredentialBox

    engine = make_engine(db_url)
    await upgrade(engine)
    box, now = CredentialBox(SECRET_KEY), utcnow()
    public_key = base64.b64encode(bytes(SigningKey(TELNYX_SEED).verify_key)).decode()
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(Tenant(id=TENANT, name="Bench", brand="Bench", created_at=now))
        await session.flush()
        session.add(CarrierCredential(tenant_id=TENANT, carrier="twilio", updated_at=now,
                                      encrypted=box.seal({"auth_token": TWILIO_TOKEN})))
        session.add(CarrierCredential(tenant_id=TENANT, carrier="telnyx", updated_at=now,
                                      encrypted=box.seal({"public_key": public_key})))
    await engine.dispose()


async def count_on_kafka(bootstrap: str, topic: str, expected: int) -> int:
    """Read the topic back: every 200 must be an event there."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    seen = 0
    deadline = time.monotonic() + 20
    try:
        while seen < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(records) for records in batches.values())
    finally:
        await consumer.stop()
    return seen


def wait_ready(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"ingress exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("ingress not ready in time")


def run_load(carrier: str, port: int, connections: int, seconds: float, first: int) -> dict:
    args = [carrier, str(port), str(connections), str(seconds), str(first)]
    out = subprocess.run([sys.executable, "-m", "bench.ingress", "load", *args], capture_output=True,
                         text=True, timeout=seconds + 30, check=True)
    return json.loads(out.stdout)


def main() -> None:
    bootstrap, pg_url = kafka_bootstrap(), database_url()
    production = bool(bootstrap and pg_url)
    workdir = tempfile.mkdtemp(prefix="bench-ingress-")
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    db_name = None
    if production:
        db_url, db_name = asyncio.run(fresh_postgres(pg_url))
    else:
        db_url = f"sqlite+aiosqlite:///{Path(workdir) / 'parley.db'}"
    asyncio.run(set_up_tenant(db_url))
    port = free_port()
    env = {**os.environ, "PARLEY_HOST": "127.0.0.1", "PARLEY_PORT": str(port),
           "PARLEY_DATABASE_URL": db_url, "PARLEY_SECRET_KEY": SECRET_KEY, "PARLEY_SIMULATOR": "false",
           "PARLEY_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "PARLEY_LOG_FORMAT": "json",
           "PARLEY_BUS": "kafka" if production else "memory", "PARLEY_TOPIC_PREFIX": prefix,
           "PARLEY_KAFKA_BOOTSTRAP": bootstrap or "127.0.0.1:9092"}
    label = "kafka+postgres" if production else "memory+sqlite"
    with open(Path(workdir) / "ingress.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "services.ingress"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        wait_ready(port, server)
        accepted = 0
        for first, (carrier, connections, seconds) in enumerate(PHASES):
            result = run_load(carrier, port, connections, seconds, first * 10_000_000)
            ok = result["statuses"].get("200", 0)
            accepted += ok
            other = {k: v for k, v in result["statuses"].items() if k != "200"}
            report(f"ingress {carrier} {label}", webhooks_per_s=ok / result["elapsed"],
                   p50_ms=ms(percentile(result["latencies"], 50)),
                   p99_ms=ms(percentile(result["latencies"], 99)),
                   max_ms=ms(max(result["latencies"], default=0.0)), accepted=ok,
                   other_statuses=other or "none", connections=connections)
        if production:
            on_topic = asyncio.run(count_on_kafka(bootstrap, prefix + "sms.inbound", accepted))
            report(f"ingress {label} durability", answered_200=accepted, events_on_topic=on_topic)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if db_name:
            asyncio.run(drop_postgres(pg_url, db_name))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        load_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
