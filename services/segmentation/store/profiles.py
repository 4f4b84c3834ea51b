"""Profiles and what hangs off them: the processed-event ledger, subscriber rows (locked while an
event is applied), labels, attributes, scores with their history, and tenants' weights."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.segmentation import (
    ProcessedEvent,
    ScoreEntry,
    ScoringWeights,
    Subscriber,
    SubscriberAttribute,
    SubscriberLabel,
)
from services.segmentation import scoring
from services.segmentation.profiles import Profile, new_profile

PROFILE_FIELDS = tuple(Profile.__dataclass_fields__)


async def first_time(session: AsyncSession, event_id: str, now: datetime) -> bool:
    if await session.get(ProcessedEvent, event_id) is not None:
        return False
    session.add(ProcessedEvent(event_id=event_id, processed_at=now))
    return True


async def subscriber(session: AsyncSession, tenant_id: str, phone: str) -> Subscriber | None:
    return await session.get(Subscriber, (tenant_id, phone))


async def locked_subscriber(session: AsyncSession, tenant_id: str, phone: str,
                            at: datetime) -> Subscriber:
    """The subscriber's row, locked for this transaction (PostgreSQL: FOR UPDATE), created when
    new. Events of one subscriber arrive on several topics at once; the lock keeps their
    read-modify-write of counters and score from losing updates."""
    query = select(Subscriber).where(Subscriber.tenant_id == tenant_id, Subscriber.phone == phone) \
        .with_for_update()
    row = await session.scalar(query)
    if row is None:
        # Insert-if-absent, then lock: a concurrent creator (another topic's consumer, a REST call)
        # makes this insert a no-op instead of a conflict, and the select then waits for its row.
        insert = sqlite_insert if session.bind.dialect.name == "sqlite" else pg_insert
        await session.execute(insert(Subscriber).values(
            tenant_id=tenant_id, phone=phone, **vars(new_profile(at))).on_conflict_do_nothing())
        row = await session.scalar(query.execution_options(populate_existing=True))
    return row


def profile_of(row: Subscriber) -> Profile:
    return Profile(**{f: getattr(row, f) for f in PROFILE_FIELDS})


def save_profile(row: Subscriber, profile: Profile) -> None:
    for f in PROFILE_FIELDS:
        setattr(row, f, getattr(profile, f))


async def page(session: AsyncSession, tenant_id: str, limit: int,
               after: str | None) -> tuple[list[Subscriber], int]:
    query = select(Subscriber).where(Subscriber.tenant_id == tenant_id)
    if after:
        query = query.where(Subscriber.phone > after)
    rows = list(await session.scalars(query.order_by(Subscriber.phone).limit(limit)))
    total = await session.scalar(
        select(func.count()).select_from(Subscriber).where(Subscriber.tenant_id == tenant_id))
    return rows, total or 0


# --- scores ------------------------------------------------------------------------------------

async def weights(session: AsyncSession, tenant_id: str) -> dict[str, int]:
    row = await session.get(ScoringWeights, tenant_id)
    return scoring.weights_for(row.weights if row else None)


async def set_weights(session: AsyncSession, tenant_id: str, overrides: dict[str, int],
                      now: datetime) -> None:
    row = await session.get(ScoringWeights, tenant_id)
    if row is None:
        session.add(ScoringWeights(tenant_id=tenant_id, weights=overrides, updated_at=now))
    else:
        row.weights, row.updated_at = overrides, now


async def add_score(session: AsyncSession, row: Subscriber, rule: str, ref: str, nominal: int,
                    at: datetime) -> ScoreEntry | None:
    """Apply `nominal` points once per (rule, ref); None when already applied or worth nothing."""
    if nominal == 0:
        return None
    seen = await session.scalar(select(ScoreEntry.id).where(
        ScoreEntry.tenant_id == row.tenant_id, ScoreEntry.phone == row.phone,
        ScoreEntry.rule == rule, ScoreEntry.ref == ref))
    if seen is not None:
        return None
    change = scoring.apply_points(row.score, nominal)
    row.score = change.score_after
    entry = ScoreEntry(tenant_id=row.tenant_id, phone=row.phone, rule=rule, ref=ref[:200],
                       delta=change.delta, score_after=change.score_after, at=at)
    session.add(entry)
    return entry


async def score_history(session: AsyncSession, tenant_id: str, phone: str,
                        limit: int) -> list[ScoreEntry]:
    return list(await session.scalars(
        select(ScoreEntry).where(ScoreEntry.tenant_id == tenant_id, ScoreEntry.phone == phone)
        .order_by(ScoreEntry.at.desc(), ScoreEntry.id.desc()).limit(limit)))


async def due_for_decay(session: AsyncSession, now: datetime, limit: int) -> list[Subscriber]:
    """Subscribers whose next quiet-period decay is due, locked; replicas skip each other's."""
    return list(await session.scalars(
        select(Subscriber).where(Subscriber.next_decay_at <= now)
        .order_by(Subscriber.next_decay_at).limit(limit).with_for_update(skip_locked=True)))


# --- labels and attributes ---------------------------------------------------------------------

async def apply_label(session: AsyncSession, tenant_id: str, phone: str, label: str, source: str,
                      at: datetime) -> bool:
    if await session.get(SubscriberLabel, (tenant_id, phone, label)) is not None:
        return False
    session.add(SubscriberLabel(tenant_id=tenant_id, phone=phone, label=label, source=source,
                                applied_at=at))
    return True


async def remove_label(session: AsyncSession, tenant_id: str, phone: str, label: str) -> bool:
    result = await session.execute(delete(SubscriberLabel).where(
        SubscriberLabel.tenant_id == tenant_id, SubscriberLabel.phone == phone,
        SubscriberLabel.label == label))
    return bool(result.rowcount)


async def labels_of(session: AsyncSession, tenant_id: str,
                    phones: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if phones:
        rows = await session.execute(
            select(SubscriberLabel.phone, SubscriberLabel.label).where(
                SubscriberLabel.tenant_id == tenant_id, SubscriberLabel.phone.in_(list(phones)))
            .order_by(SubscriberLabel.label))
        for phone, label in rows:
            found[phone].append(label)
    return found


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


async def set_attribute(session: AsyncSession, tenant_id: str, phone: str, name: str,
                        value: str | None, at: datetime) -> None:
    """Set (or with None, remove) one attribute."""
    row = await session.get(SubscriberAttribute, (tenant_id, phone, name))
    if value is None:
        if row is not None:
            await session.delete(row)
        return
    if row is None:
        session.add(SubscriberAttribute(tenant_id=tenant_id, phone=phone, name=name, value=value,
                                        num_value=_number(value), updated_at=at))
    else:
        row.value, row.num_value, row.updated_at = value, _number(value), at


async def attributes_of(session: AsyncSession, tenant_id: str,
                        phones: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = defaultdict(dict)
    if phones:
        rows = await session.execute(
            select(SubscriberAttribute.phone, SubscriberAttribute.name, SubscriberAttribute.value)
            .where(SubscriberAttribute.tenant_id == tenant_id,
                   SubscriberAttribute.phone.in_(list(phones))))
        for phone, name, value in rows:
            found[phone][name] = value
    return found
