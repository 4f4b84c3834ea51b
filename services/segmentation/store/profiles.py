"""Profiles and what hangs off them: the processed-event ledger, subscriber rows (locked while an
event is applied), labels, attributes, scores with their history, and tenants' weights."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.segmentation import (
    ProcessedEvent,
    ScoreEntry,
    ScoringWeights,
    Subscriber,
    SubscriberAttribute,
    SubscriberLabel,
)
from libs.common.db.session import upsert_insert
from services.segmentation import scoring
from services.segmentation.profiles import Profile, new_profile

PROFILE_FIELDS = tuple(Profile.__dataclass_fields__)


async def first_time(session: AsyncSession, event_ids: Sequence[str], now: datetime) -> set[str]:
    """Which of these events are new, recording them as processed (a batch in one query)."""
    seen = set(await session.scalars(select(ProcessedEvent.event_id).where(
        ProcessedEvent.event_id.in_(set(event_ids)))))
    new = {i for i in event_ids if i not in seen}
    session.add_all(ProcessedEvent(event_id=i, processed_at=now) for i in new)
    return new


async def subscriber(session: AsyncSession, tenant_id: str, phone: str) -> Subscriber | None:
    return await session.get(Subscriber, (tenant_id, phone))


async def locked_subscriber(session: AsyncSession, tenant_id: str, phone: str,
                            at: datetime) -> Subscriber:
    """The subscriber's row, locked for this transaction (PostgreSQL: FOR UPDATE), created when
    new. Events of one subscriber arrive on several topics at once; the lock keeps their
    read-modify-write of counters and score from losing updates."""
    return (await locked_subscribers(session, tenant_id, {phone: at}))[phone]


async def locked_subscribers(session: AsyncSession, tenant_id: str,
                             first_seen: dict[str, datetime]) -> dict[str, Subscriber]:
    """Many subscribers' rows at once, locked in phone order (so two batches that share
    subscribers cannot deadlock), the missing ones created with `first_seen` as their start."""
    phones = sorted(first_seen)
    query = select(Subscriber).where(Subscriber.tenant_id == tenant_id, Subscriber.phone.in_(phones)) \
        .order_by(Subscriber.phone).with_for_update()
    rows = {r.phone: r for r in await session.scalars(query)}
    missing = [p for p in phones if p not in rows]
    if missing:
        # Insert-if-absent, then lock: a concurrent creator (another topic's consumer, a REST call)
        # makes this insert a no-op instead of a conflict, and the select then waits for its row.
        await session.execute(
            upsert_insert(session)(Subscriber.__table__).on_conflict_do_nothing(),
            [dict(tenant_id=tenant_id, phone=p, **vars(new_profile(first_seen[p]))) for p in missing])
        rows = {r.phone: r for r in await session.scalars(
            query.execution_options(populate_existing=True))}
    return rows


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
    """Apply a label (one already there keeps its first source and time); True when new."""
    result = await session.execute(upsert_insert(session)(SubscriberLabel).values(
        tenant_id=tenant_id, phone=phone, label=label, source=source, applied_at=at
    ).on_conflict_do_nothing())
    return bool(result.rowcount)


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
    if value is None:
        await session.execute(delete(SubscriberAttribute).where(
            SubscriberAttribute.tenant_id == tenant_id, SubscriberAttribute.phone == phone,
            SubscriberAttribute.name == name))
        return
    await _upsert_attributes(session, [_attribute_row(tenant_id, phone, name, value, at)])


def _attribute_row(tenant_id: str, phone: str, name: str, value: str, at: datetime) -> dict:
    return dict(tenant_id=tenant_id, phone=phone, name=name, value=value, num_value=_number(value),
                updated_at=at)


async def _upsert_attributes(session: AsyncSession, rows: list[dict]) -> None:
    # executemany of one compiled statement (the table, not the ORM entity): many rows cost one
    # statement, and nothing is compiled per row
    insert = upsert_insert(session)(SubscriberAttribute.__table__)
    await session.execute(insert.on_conflict_do_update(
        index_elements=["tenant_id", "phone", "name"],
        set_={c: insert.excluded[c] for c in ("value", "num_value", "updated_at")}), rows)


class PendingWrites:
    """Labels and attributes of many subscribers, written in a few statements instead of one or
    two per subscriber (on SQLite every statement is a round trip to its thread): a bulk import
    applies a batch of 200 subscribers in a handful of statements. The caller flushes before any
    other write that could touch the same rows, so the order of events is kept."""

    def __init__(self) -> None:
        self.labels: dict[tuple[str, str, str], dict] = {}
        self.attributes: dict[tuple[str, str, str], dict] = {}

    def label(self, tenant_id: str, phone: str, label: str, source: str, at: datetime) -> None:
        self.labels.setdefault((tenant_id, phone, label), dict(
            tenant_id=tenant_id, phone=phone, label=label, source=source, applied_at=at))

    def attribute(self, tenant_id: str, phone: str, name: str, value: str, at: datetime) -> None:
        # one row per key and statement (PostgreSQL refuses to upsert a row twice in one): last wins
        self.attributes[(tenant_id, phone, name)] = _attribute_row(tenant_id, phone, name, value, at)

    async def flush(self, session: AsyncSession) -> None:
        labels, attributes = list(self.labels.values()), list(self.attributes.values())
        self.labels, self.attributes = {}, {}
        if labels:
            await session.execute(upsert_insert(session)(SubscriberLabel.__table__)
                                  .on_conflict_do_nothing(), labels)
        if attributes:
            await _upsert_attributes(session, attributes)


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
