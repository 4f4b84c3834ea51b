"""The two profiles every scenario runs on.

- `embedded`: in-memory bus + SQLite file (the default way to run Parley).
- `production`: Kafka + PostgreSQL, the servers started by scripts/kafka.sh and scripts/postgres.sh
  (`make test` starts them and exports PARLEY_TEST_KAFKA_BOOTSTRAP / PARLEY_TEST_DATABASE_URL).

PARLEY_TEST_PROFILE picks: `all` (default), `embedded` or `production`. Asking for production
without the servers is an error, not a silent skip: a green run must mean both profiles ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy.engine import make_url

from libs.common.config import Settings

EMBEDDED, PRODUCTION = "embedded", "production"


def selected_profiles() -> list[str]:
    choice = os.environ.get("PARLEY_TEST_PROFILE", "all")
    if choice not in {"all", EMBEDDED, PRODUCTION}:
        raise RuntimeError(f"PARLEY_TEST_PROFILE={choice!r}: use all, embedded or production")
    return [EMBEDDED, PRODUCTION] if choice == "all" else [choice]


def production_env() -> tuple[str, str]:
    url = os.environ.get("PARLEY_TEST_DATABASE_URL")
    bootstrap = os.environ.get("PARLEY_TEST_KAFKA_BOOTSTRAP")
    if not url or not bootstrap:
        raise RuntimeError(
            "the production profile needs PARLEY_TEST_DATABASE_URL and PARLEY_TEST_KAFKA_BOOTSTRAP: "
            "run `make test` (it starts PostgreSQL and Kafka), or set PARLEY_TEST_PROFILE=embedded"
        )
    return url, bootstrap


_TEMPLATES: dict[str, str] = {}  # test server URL → this process's migrated template database


async def migrated_template(url: str) -> str:
    """A database on the test server with every migration applied, made once per process: a test
    database copied from it (CREATE DATABASE … TEMPLATE) is ready in a fraction of the time the
    migrations take, and the services' own upgrade on start then finds nothing to do."""
    if url not in _TEMPLATES:
        from libs.common.db.migrate import upgrade
        from libs.common.db.session import make_engine

        name = f"tpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        await _server_sql(url, f'CREATE DATABASE "{name}"')
        engine = make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()  # a template may have no one connected while it is copied
        _TEMPLATES[url] = name
    return _TEMPLATES[url]


@asynccontextmanager
async def fresh_postgres(url: str, migrated: bool = False) -> AsyncIterator[str]:
    """A new database on the test server for one test, empty or (`migrated`) with every migration
    applied; dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:16]
    template = f' TEMPLATE "{await migrated_template(url)}"' if migrated else ""
    await _server_sql(url, f'CREATE DATABASE "{name}"{template}')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _server_sql(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _server_sql(url: str, sql: str) -> None:
    """One statement on the test server's own database (creating and dropping others)."""
    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                                 database=parsed.database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def profile_settings(profile: str, tmp_path: Path, migrated: bool = True,
                           **overrides) -> AsyncIterator[Settings]:
    """Settings for one test on one profile: its own database and its own topics. On PostgreSQL
    the database starts migrated unless `migrated` is False (tests of the migrations)."""
    # The simulated carrier's receipts are off: a test app is served over ASGI, not on a port the
    # receipts could reach; scenarios post their own receipts, and tests/test_simulator.py turns
    # them on against the app served on 127.0.0.1. A fresh topic's first publishes can take
    # seconds to find their leaders on a busy machine: tests keep a 5 s publish wait.
    base = dict(data_dir=tmp_path, partitions=4, bus_retry_backoff_ms=5, log_format="console",
                simulator=True, simulator_receipts=False, admin_token="test-admin-token",
                secret_key="test-secret", publish_timeout_s=5.0)
    base.update(overrides)
    if profile == EMBEDDED:
        yield Settings(bus="memory", **base)
        return
    url, bootstrap = production_env()
    prefix = f"t{uuid.uuid4().hex[:10]}."
    async with fresh_postgres(url, migrated=migrated) as db_url:
        try:
            yield Settings(bus="kafka", kafka_bootstrap=bootstrap, database_url=db_url,
                           topic_prefix=prefix, **base)
        finally:
            await drop_topics(bootstrap, prefix)


async def drop_topics(bootstrap: str, prefix: str) -> None:
    """Delete one test's topics. Every partition keeps two memory-mapped index files open in the
    broker, so a suite that left its topics behind would pass the kernel's map limit
    (vm.max_map_count, 65530 by default) a few hundred tests in and the broker would die."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="parley-tests",
                                request_timeout_ms=10_000)
    # A test that stopped the broker on purpose leaves nothing to delete.
    with contextlib.suppress(KafkaError, OSError, TimeoutError):
        async with asyncio.timeout(15):
            await admin.start()
            try:
                names = [t for t in await admin.list_topics() if t.startswith(prefix)]
                if names:
                    await admin.delete_topics(names)
            finally:
                await admin.close()
