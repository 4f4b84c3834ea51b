"""Bulk import: rows per second importing subscribers from CSV, and peak memory as the file grows.

Generates a CSV (phone, opted_in_at, source, consent_text, labels, one attribute), uploads it
through the real API (streamed), and follows the job to the end (`rows_per_s`: upload, validation
and consent applied) and on until segmentation holds every profile (`profiles_per_s`), on
memory+SQLite and, when the test servers are up (`make bench`), on Kafka+PostgreSQL. Peak memory
is the process's resident peak (ru_maxrss), measured per size in a fresh process so the figures
compare: it must stay flat as the file grows.

    python -m bench.import                 # 1,000,000 rows per profile (the issue's figure)
    python -m bench.import --rows 200000   # a quicker run
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import database_url, kafka_bootstrap, report


def make_csv(path: Path, rows: int) -> None:
    with path.open("w") as f:
        f.write("phone,opted_in_at,source,consent_text,labels,attr_city\n")
        for n in range(rows):
            f.write(f"+1212{5000000 + n:07d},2025-01-02T10:00:00Z,checkout,I agree to marketing texts,"
                    f"vip;interest:shoes,Austin\n")


async def run(rows: int, profile: str) -> None:
    import httpx

    from libs.common.config import Settings
    from libs.common.observability import configure_logging
    from libs.common.service import build_app
    from libs.common.testing.profiles import fresh_postgres
    from services.embedded import all_services

    configure_logging("console", "WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "subscribers.csv"
        make_csv(csv_path, rows)
        base = dict(data_dir=Path(tmp), admin_token="bench-admin", log_level="WARNING",
                    import_max_bytes=4 * 1024**3)
        if profile == "kafka+pg":
            async with fresh_postgres(database_url()) as url:
                settings = Settings(bus="kafka", kafka_bootstrap=kafka_bootstrap(), database_url=url,
                                    topic_prefix=f"bench{uuid.uuid4().hex[:6]}.", **base)
                await _import(settings, csv_path, rows, profile, httpx, build_app, all_services)
        else:
            await _import(Settings(bus="memory", **base), csv_path, rows, profile, httpx, build_app,
                          all_services)


async def _import(settings, csv_path: Path, rows: int, profile: str, httpx, build_app, all_services) -> None:
    from libs.common.service import started

    app = build_app(all_services(), settings)
    async with app.router.lifespan_context(app):
        await started(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=None) as client:
            admin = {"Authorization": "Bearer bench-admin"}
            created = await client.post("/v1/tenants", headers=admin, json={"id": "bench", "name": "Bench"})
            key = {"Authorization": f"Bearer {created.json()['api_key']}"}

            async def chunks():
                with csv_path.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        yield chunk

            started = time.perf_counter()
            resp = await client.post("/v1/imports", headers={**key, "content-type": "text/csv"},
                                     content=chunks())
            job_id = resp.json()["id"]
            while True:
                job = (await client.get(f"/v1/imports/{job_id}", headers=key)).json()
                if job["status"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.5)
            imported = time.perf_counter() - started
            # ...and until segmentation holds every imported profile, labels and attributes
            # included: the import is only useful to a segment once this is true
            while job["status"] == "done":
                page = (await client.get("/v1/subscribers", headers=key, params={"limit": 1})).json()
                if page["total"] >= job["rows_applied"]:
                    break
                await asyncio.sleep(0.5)
            settled = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(f"import {profile}", rows=rows, status=job["status"], rows_per_s=rows / imported,
           profiles_per_s=rows / settled, seconds=settled, peak_rss_mb=peak_mb)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profile", choices=["memory+sqlite", "kafka+pg"])
    args = parser.parse_args()
    if args.profile:
        asyncio.run(run(args.rows, args.profile))
        return
    profiles = ["memory+sqlite"] + (["kafka+pg"] if database_url() and kafka_bootstrap() else [])
    for profile in profiles:
        for rows in (args.rows // 4, args.rows):  # two sizes: memory must stay flat as files grow
            subprocess.call([sys.executable, "-m", "bench.import", "--rows", str(rows), "--profile", profile])
    if len(profiles) == 1:
        print("import kafka+pg               skipped: needs PARLEY_TEST_* servers (make bench)")


if __name__ == "__main__":
    main()
