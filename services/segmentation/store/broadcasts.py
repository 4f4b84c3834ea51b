"""Broadcasts and their recipients: audience resolution in one INSERT … SELECT, the pacing
job's claim on a broadcast, batches of pending recipients, and non-responders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, insert, literal, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.segmentation import (
    Broadcast,
    BroadcastRecipient,
    Interaction,
    Subscriber,
    SubscriberLabel,
)
from services.segmentation.rules import Node, S
from services.segmentation.store.segments import members

R = BroadcastRecipient.__table__


async def resolve_audience(session: AsyncSession, tenant_id: str, broadcast_id: str, node: Node,
                           now: datetime) -> int:
    """Insert one pending recipient per segment member who has not opted out."""
    query = select(literal(tenant_id), literal(broadcast_id), S.c.phone, literal("pending")).where(
        members(tenant_id, node, now), S.c.consent != "opted_out")
    result = await session.execute(
        insert(R).from_select(["tenant_id", "broadcast_id", "phone", "state"], query))
    return result.rowcount or 0


async def get(session: AsyncSession, tenant_id: str, broadcast_id: str) -> Broadcast | None:
    return await session.get(Broadcast, (tenant_id, broadcast_id))


async def all_of(session: AsyncSession, tenant_id: str) -> list[Broadcast]:
    return list(await session.scalars(select(Broadcast).where(Broadcast.tenant_id == tenant_id)
                                      .order_by(Broadcast.created_at.desc())))


async def running(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.execute(select(Broadcast.tenant_id, Broadcast.id)
                                 .where(Broadcast.state == "running"))
    return [(t, b) for t, b in rows]


async def claim(session: AsyncSession, tenant_id: str, broadcast_id: str) -> Broadcast | None:
    """Lock a running broadcast for this transaction. A write first takes the row lock on
    PostgreSQL and the database's write lock on SQLite, so two ticks (or replicas) serialise and
    the second sees what the first enrolled."""
    b = Broadcast
    result = await session.execute(update(b).where(
        b.tenant_id == tenant_id, b.id == broadcast_id, b.state == "running")
        .values(state=b.state))
    if not result.rowcount:
        return None
    return await session.get(b, (tenant_id, broadcast_id), populate_existing=True)


async def pending(session: AsyncSession, tenant_id: str, broadcast_id: str, after: str | None,
                  limit: int) -> list[tuple[str, str | None]]:
    """The next pending recipients after `after` (by phone) with their current consent. Batches
    go in phone order, so the scan starts at the cursor instead of wading through the rows
    already enrolled (dead index entries on PostgreSQL until vacuum). Consent is a correlated
    lookup by primary key: a join lets a generic plan hash the whole subscriber table per batch."""
    consent = select(Subscriber.consent).where(
        Subscriber.tenant_id == R.c.tenant_id, Subscriber.phone == R.c.phone).scalar_subquery()
    query = select(R.c.phone, consent) \
        .where(R.c.tenant_id == tenant_id, R.c.broadcast_id == broadcast_id, R.c.state == "pending")
    if after is not None:
        query = query.where(R.c.phone > after)
    rows = await session.execute(query.order_by(R.c.phone).limit(limit))
    return [(phone, consent) for phone, consent in rows]


async def mark_skipped(session: AsyncSession, tenant_id: str, broadcast_id: str,
                       phones: list[str]) -> None:
    if phones:
        await session.execute(update(R).where(
            R.c.tenant_id == tenant_id, R.c.broadcast_id == broadcast_id, R.c.phone.in_(phones),
            R.c.state == "pending").values(state="skipped"))


async def mark_enrolled(session: AsyncSession, tenant_id: str, broadcast_id: str,
                        after: str | None, last: str, at: datetime, deadline: datetime) -> None:
    """Mark the rest of a batch, which is every pending phone in (after, last]: a range scan of
    the primary key, where a thousand-item IN list costs a scan of the whole broadcast."""
    conds = [R.c.tenant_id == tenant_id, R.c.broadcast_id == broadcast_id, R.c.state == "pending",
             R.c.phone <= last]
    if after is not None:
        conds.append(R.c.phone > after)
    await session.execute(update(R).where(*conds).values(state="enrolled", enrolled_at=at,
                                                           reply_deadline_at=deadline))


async def state_counts(session: AsyncSession, tenant_id: str, broadcast_id: str) -> dict[str, int]:
    rows = await session.execute(select(R.c.state, func.count()).where(
        R.c.tenant_id == tenant_id, R.c.broadcast_id == broadcast_id).group_by(R.c.state))
    return {state: n for state, n in rows}


def _non_responders(tenant_id: str, broadcast_id: str, now: datetime):
    i = Interaction.__table__
    replied = exists().where(i.c.tenant_id == R.c.tenant_id, i.c.phone == R.c.phone,
                             i.c.kind == "reply", i.c.at >= R.c.enrolled_at,
                             i.c.at < R.c.reply_deadline_at)
    return and_(R.c.tenant_id == tenant_id, R.c.broadcast_id == broadcast_id,
                R.c.state == "enrolled", R.c.reply_deadline_at <= now, not_(replied))


async def non_responders(session: AsyncSession, tenant_id: str, broadcast_id: str, now: datetime,
                         limit: int, after: str | None) -> list[str]:
    query = select(R.c.phone).where(_non_responders(tenant_id, broadcast_id, now))
    if after:
        query = query.where(R.c.phone > after)
    return list(await session.scalars(query.order_by(R.c.phone).limit(limit)))


async def suppress_non_responders(session: AsyncSession, tenant_id: str, broadcast_id: str,
                                  label: str, now: datetime) -> int:
    """Label every recipient whose reply window passed without a reply, and mark them suppressed:
    the label is the group a later segment excludes (or a re-engagement broadcast targets)."""
    lbl = SubscriberLabel.__table__
    already = exists().where(lbl.c.tenant_id == R.c.tenant_id, lbl.c.phone == R.c.phone,
                             lbl.c.label == label)
    group = select(R.c.tenant_id, R.c.phone, literal(label), literal("broadcast"), literal(now)) \
        .where(_non_responders(tenant_id, broadcast_id, now), not_(already))
    await session.execute(insert(lbl).from_select(
        ["tenant_id", "phone", "label", "source", "applied_at"], group))
    result = await session.execute(update(R).where(_non_responders(tenant_id, broadcast_id, now))
                                   .values(state="suppressed"))
    return result.rowcount or 0
