"""`make chaos`: a longer chaos run than the test's (tests/chaos/scenario.py), printing its figures.

It runs on the PostgreSQL and Kafka servers `scripts/with-servers.sh` started for it, which it
owns: besides killing services it kills and stops the broker (`kafka.sh restart` brings it back)
and restarts the database server (`postgres.sh restart`), in a database and topics of its own.
Exit status 1 when the verdict fails: a message lost, duplicated or never accepted, an answer
other than 2xx or 503, a service exit other than the kills, a fault not recovered from.

    scripts/with-servers.sh .venv/bin/python -m tests.chaos [--faults router,kafka,...]
        [--rounds 1] [--rate 5] [--gap 10] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bench.common import database_url, kafka_bootstrap, keep_or_remove
from bench.stack import REPO, migrate
from libs.common.testing.profiles import fresh_postgres
from libs.common.testing.servers import ScriptBroker, ScriptPostgres
from tests.chaos.scenario import FAULTS, Plan, judge, log_excerpts, report, run

ROUND = ("router", "sender", "kafka", "segmentation", "postgres", "router", "kafka-stop+router", "sender")


def parse_args(argv: list[str]) -> tuple[Plan, bool]:
    p = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--faults", default=",".join(ROUND),
                   help=f"in order, comma-separated, of {', '.join(FAULTS)} (default {','.join(ROUND)})")
    p.add_argument("--rounds", type=int, default=1, help="times the faults are played (1)")
    p.add_argument("--rate", type=float, default=5.0, help="new messages per second (5)")
    p.add_argument("--gap", type=float, default=10.0, help="steady seconds around each fault (10)")
    p.add_argument("--keep", action="store_true", help="keep the service logs even when all went well")
    a = p.parse_args(argv)
    faults = tuple(f.strip() for f in a.faults.split(",") if f.strip()) * a.rounds
    try:
        plan = Plan(faults=faults, rate=a.rate, lead_s=a.gap, gap_s=a.gap)
    except ValueError as exc:
        p.error(f"--faults: {exc}")
    return plan, a.keep


async def chaos(plan: Plan, pg_url: str, run_dir: Path, workdir: Path):
    broker, postgres = ScriptBroker(run_dir), ScriptPostgres(run_dir)
    async with fresh_postgres(pg_url) as db_url:
        await migrate(db_url, workdir / "migrate.log")
        return await run(plan, db_url, broker, workdir, restart_postgres=postgres.restart,
                         progress=lambda line: print(line, flush=True))


def main(argv: list[str]) -> int:
    plan, keep = parse_args(argv)
    pg_url, bootstrap = database_url(), kafka_bootstrap()
    if not (pg_url and bootstrap):
        if os.environ.get("PARLEY_TEST_PROFILE") == "embedded":
            print("chaos skipped: needs Kafka and PostgreSQL (not with PARLEY_TEST_PROFILE=embedded)")
            return 0
        print("chaos needs the servers of scripts/with-servers.sh: run `make chaos`", file=sys.stderr)
        return 2
    run_dir = REPO / os.environ.get("PARLEY_RUN_DIR", ".run")  # as with-servers.sh reads it
    if ScriptBroker(run_dir).bootstrap != bootstrap:
        print(f"PARLEY_TEST_KAFKA_BOOTSTRAP is not the broker of {run_dir}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="parley-chaos-"))
    print(f"chaos: {len(plan.faults)} faults ({', '.join(plan.faults)}), {plan.rate:g} msg/s, "
          f"{plan.gap_s:g} s between faults …", flush=True)
    result = asyncio.run(chaos(plan, pg_url, run_dir, workdir))
    print()
    print(report(result))
    failed = bool(judge(result).failures)
    if failed:
        print(f"\n{log_excerpts(workdir / 'logs')}")
    keep_or_remove(workdir, failed or keep)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
