"""Group commit: concurrent webhooks delivered together, one claim transaction, one produce and
one settle transaction for all of them (`delivery.deliver` takes any list of accepts).

No timer: a webhook whose turn comes while fewer than `MAX_IN_FLIGHT` deliveries are running goes
at once, so a quiet ingress adds no latency; the webhooks that arrive while every slot is busy
wait for the next free one and go in it together, so the busier the ingress the larger (and the
fewer per webhook) its transactions and produces. Each webhook is still answered only after its
own events are on the bus and its keys claimed; if a group's delivery fails, every webhook in it
gets the failure (a 503: the carrier retries, and a retry of an event that did reach the bus is a
duplicate). Copies of one message in one group are one claim: the second is a duplicate, answered
once the group's publish returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from libs.common.service import Ctx
from services.ingress import delivery
from services.ingress.intake import Accept

# Concurrent deliveries: enough to overlap one group's database round trips with another's
# publish, few enough that a burst becomes groups rather than a queue for pooled connections.
MAX_IN_FLIGHT = 4
MAX_GROUP = 256  # accepts per delivery: bounds one transaction and one produce

_KEY = "ingress.group_commit"


@dataclass
class _Waiting:
    accepts: Sequence[Accept]
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.queue: list[_Waiting] = []
        self.in_flight = 0

    async def deliver(self, accepts: Sequence[Accept]) -> list[delivery.Step]:
        """`delivery.deliver(ctx, accepts)`, possibly together with other webhooks' accepts."""
        waiting = _Waiting(accepts)
        waiting.done.add_done_callback(_retrieved)  # also when its caller went away meanwhile
        self.queue.append(waiting)
        self._start()
        return await asyncio.shield(waiting.done)  # a cancelled caller leaves the group intact

    def _start(self) -> None:
        while self.queue and self.in_flight < MAX_IN_FLIGHT:
            group, size = [], 0
            while self.queue and (not group or size + len(self.queue[0].accepts) <= MAX_GROUP):
                size += len(self.queue[0].accepts)
                group.append(self.queue.pop(0))
            self.in_flight += 1
            asyncio.get_running_loop().create_task(self._run(group))

    async def _run(self, group: list[_Waiting]) -> None:
        try:
            steps = await delivery.deliver(self.ctx, [a for w in group for a in w.accepts])
        except asyncio.CancelledError:  # the process is stopping
            for waiting in group:
                waiting.done.cancel()
            raise
        except BaseException as exc:  # handed to every caller of the group, which raises it
            for waiting in group:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
        else:
            start = 0
            for waiting in group:
                end = start + len(waiting.accepts)
                if not waiting.done.done():
                    waiting.done.set_result(steps[start:end])
                start = end
        finally:
            self.in_flight -= 1
            self._start()


def _retrieved(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def group_commit(ctx: Ctx) -> GroupCommit:
    """This process's group commit (one per app context)."""
    existing = ctx.state.get(_KEY)
    if existing is None:
        existing = ctx.state[_KEY] = GroupCommit(ctx)
    return existing
