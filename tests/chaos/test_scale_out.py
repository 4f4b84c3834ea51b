"""Scaled out (production profile): two router and two sender processes in the same consumer groups
(each its own port and PARLEY_INSTANCE_ID, as two pods of a Deployment), one ingress and one
segmentation, on a Kafka broker of the test's own and a database of its own. A carrier posts HELPs
from a few hundred phones, each phone two one after another (the second once the first is
accepted), while one router replica and then one sender replica are killed with SIGKILL and started
again. Every accepted message must get exactly one reply, each phone's replies must reach the
carrier in the order of its messages, no process may exit but those killed, and every replica must
have taken a share of the work (a replica that sat idle fails the run).

What the carrier was answered is the chaos test's to judge (tests/chaos/test_chaos.py): here six
services share the machine's cores, and a restarting replica's imports can starve ingress enough
that a webhook is answered after the carrier's 10 s. The carrier retries it under the same id, so
that is reported, and exactly-once still holds it to one reply.
"""

from __future__ import annotations

import asyncio
import dataclasses

from bench.stack import migrate
from libs.common.testing.profiles import fresh_postgres, production_env
from tests.chaos.scenario import Plan, by_phone, judge, log_excerpts, report, run

REPLICAS = {"router": 2, "sender": 2}
PLAN = Plan(faults=("router-1", "sender-2"), rate=10.0, per_phone=2, lead_s=4.0, gap_s=4.0,
            replicas=REPLICAS)


async def test_two_replicas_of_router_and_sender_share_the_work_and_keep_each_phones_order_through_kills(
        own_broker, tmp_path):
    url, _ = production_env()
    async with fresh_postgres(url) as db_url:
        await asyncio.gather(own_broker.start(), migrate(db_url, tmp_path / "migrate.log"))
        result = await run(PLAN, db_url, own_broker, tmp_path)
    print(report(result))
    details = f"{report(result)}\nservice logs: {result.logs}\n\n{log_excerpts(result.logs)}"
    assert len(result.faults) == len(PLAN.faults), details
    # The order check has pairs to judge, and the idle check every replica to look at.
    ordered = [mids for mids in by_phone(result.messages).values() if len(mids) > 1]
    assert len(ordered) >= 50, details
    assert set(result.work) == {"router-1", "router-2", "sender-1", "sender-2"}, details
    failures = dataclasses.replace(judge(result), bad_answers=[]).failures
    assert not failures, details
