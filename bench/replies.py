"""Which reply answers which webhook, and whether each was answered exactly once: the check every
run of the stack ends with (bench/pipeline.py, tests/chaos); and whether each phone's replies
reached the carrier in the order of its messages (tests/chaos).

A simulator HELP always gets exactly one reply, an `outbound_message` whose `in_reply_to` is the
webhook's message id, delivered as one `simulated_message` row (the carrier received it then; its
`seq` is the order the carrier received the tenant's messages in).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime


def replies_by_message(rows: Iterable[tuple[str | None, float]]) -> dict[str, list[float]]:
    """in_reply_to → the times each of its replies reached the carrier, earliest first."""
    out: dict[str, list[float]] = {}
    for in_reply_to, sent_at in rows:
        if in_reply_to is not None:
            out.setdefault(in_reply_to, []).append(sent_at)
    for times in out.values():
        times.sort()
    return out


@dataclass(frozen=True)
class Once:
    missing: list[str]  # answered 2xx, no reply
    duplicated: list[str]  # more than one reply
    refused_replied: list[str]  # answered non-2xx, yet replied: a carrier's retry would get a second
    late_accepted: list[str]  # timed out here, yet replied: the service finished it after we gave up


def exactly_once(accepted: Iterable[str], refused: Iterable[str],
                 replies: Mapping[str, list[float]]) -> Once:
    """Every message answered 2xx has exactly one reply; none answered otherwise has one."""
    accepted, refused = set(accepted), set(refused)
    stray = [m for m in replies if m not in accepted]
    return Once(missing=sorted(m for m in accepted if not replies.get(m)),
                duplicated=sorted(m for m, times in replies.items() if len(times) > 1),
                refused_replied=sorted(m for m in stray if m in refused),
                late_accepted=sorted(m for m in stray if m not in refused))


async def fetch_replies(conn, tenant: str, since: float = 0.0) -> dict[str, list[float]]:
    """The tenant's replies the simulated carrier received since `since` (wall clock), by webhook."""
    rows = await conn.fetch(
        "SELECT o.in_reply_to, s.sent_at FROM simulated_message s JOIN outbound_message o ON o.id = s.id "
        "WHERE s.tenant_id = $1 AND s.sent_at >= $2", tenant, datetime.fromtimestamp(since, UTC))
    return replies_by_message((r["in_reply_to"], r["sent_at"].timestamp()) for r in rows)


def out_of_order(sent: Mapping[str, list[str]], order: Mapping[str, int]) -> list[str]:
    """Of each phone's messages (`sent`: phone → message ids in the order it sent them), the pairs
    whose replies (`order`: message id → the carrier's seq of its first reply) came the other way
    round; messages without a reply are left out (`exactly_once` reports them)."""
    out = []
    for phone, mids in sent.items():
        replied = [m for m in mids if m in order]
        out += [f"{phone}: {later} answered before {earlier}" for earlier, later in
                itertools.pairwise(replied) if order[later] < order[earlier]]
    return out


async def reply_order(conn, tenant: str) -> dict[str, int]:
    """in_reply_to → the seq of its first reply at the simulated carrier (the handset log's order)."""
    rows = await conn.fetch(
        "SELECT o.in_reply_to, min(s.seq) AS seq FROM simulated_message s "
        "JOIN outbound_message o ON o.id = s.id WHERE s.tenant_id = $1 AND o.in_reply_to IS NOT NULL "
        "GROUP BY o.in_reply_to", tenant)
    return {r["in_reply_to"]: r["seq"] for r in rows}


async def drain(conn, tenant: str, accepted: Iterable[str], bound_s: float,
                check: Callable[[], None] = lambda: None) -> dict[str, list[float]]:
    """Wait (at most `bound_s`, calling `check` between looks) until every accepted message has a
    reply; then a moment more, so a duplicate sent right after shows too."""
    want = set(accepted)
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        check()
        count = await conn.fetchval("SELECT count(*) FROM simulated_message WHERE tenant_id = $1", tenant)
        if count >= len(want) and not exactly_once(want, (), await fetch_replies(conn, tenant)).missing:
            await asyncio.sleep(1.0)
            break
        await asyncio.sleep(0.5)
    return await fetch_replies(conn, tenant)
