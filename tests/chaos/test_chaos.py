"""The production shape through faults (production profile): the four services as processes on a
Kafka broker of the test's own and a database of its own, a carrier posting HELPs that retries the
same message id on a 5xx, a timeout or a connection error; the router and then the sender killed
with SIGKILL mid-stream and started again, then the broker stopped (SIGTERM, as in a rolling
restart) and brought back with `scripts/kafka.sh restart`, the sender killed and started again
while the broker is away (`kafka.sh restart` after kill -9 is tests/test_server_scripts.py's and
`make chaos`'s). Every
message must end accepted with exactly one reply; no service may exit but those killed; the
carrier must only ever be told 2xx or 503 (never a timeout, a refused connection or another
status), the broker's outage included.

`make chaos` runs a longer plan and prints the figures (tests/chaos/__main__.py).
"""

from __future__ import annotations

import asyncio

from bench.stack import migrate
from libs.common.testing.profiles import fresh_postgres, production_env
from tests.chaos.scenario import Plan, judge, log_excerpts, report, run

PLAN = Plan(faults=("router", "sender", "kafka-stop+sender"), lead_s=3.0, gap_s=3.0)


async def test_every_accepted_message_gets_one_reply_through_kills_and_a_broker_restart(own_broker, tmp_path):
    url, _ = production_env()
    async with fresh_postgres(url) as db_url:
        await asyncio.gather(own_broker.start(), migrate(db_url, tmp_path / "migrate.log"))
        result = await run(PLAN, db_url, own_broker, tmp_path)
    print(report(result))
    assert result.messages and len(result.faults) == len(PLAN.faults)
    failures = judge(result).failures
    assert not failures, f"{report(result)}\nservice logs: {result.logs}\n\n{log_excerpts(result.logs)}"
