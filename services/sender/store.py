"""Sender queries: numbers, messages and their history, settings, rate buckets, consent reads,
carrier opt-outs and pending receipts. Makes no decisions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.router import DEFAULT_PROGRAM, Consent, DncEntry
from libs.common.db.models.sender import (
    CarrierOptOut,
    Link,
    MessageEvent,
    OutboundMessage,
    PendingReceipt,
    RateBucket,
    SenderSettings,
    SendingNumber,
)
from libs.common.db.models.tenancy import CarrierCredential, Tenant
from libs.common.db.session import upsert_insert
from services.sender.policy import DEFAULT_RULES, SendingRules

# --- numbers and settings -----------------------------------------------------------------------

async def sending_number(session: AsyncSession, tenant_id: str,
                         number: str | None) -> SendingNumber | None:
    query = select(SendingNumber).where(SendingNumber.tenant_id == tenant_id)
    if number:
        query = query.where(SendingNumber.number == number)
    else:
        query = query.order_by(SendingNumber.is_default.desc(), SendingNumber.created_at)
    return await session.scalar(query.limit(1))


async def number_owner(session: AsyncSession, number: str) -> str | None:
    return await session.scalar(select(SendingNumber.tenant_id).where(SendingNumber.number == number))


async def numbers(session: AsyncSession, tenant_id: str) -> list[SendingNumber]:
    return list(await session.scalars(
        select(SendingNumber).where(SendingNumber.tenant_id == tenant_id)
        .order_by(SendingNumber.number)))


async def rules(session: AsyncSession, tenant_id: str) -> SendingRules:
    row = await session.get(SenderSettings, tenant_id)
    return SendingRules.model_validate(row.rules) if row is not None else DEFAULT_RULES


async def save_rules(session: AsyncSession, tenant_id: str, value: SendingRules, now: datetime) -> None:
    row = await session.get(SenderSettings, tenant_id)
    if row is None:
        session.add(SenderSettings(tenant_id=tenant_id, rules=value.model_dump(), updated_at=now))
    else:
        row.rules, row.updated_at = value.model_dump(), now


async def credentials(session: AsyncSession, tenant_id: str, carrier: str) -> bytes | None:
    return await session.scalar(select(CarrierCredential.encrypted).where(
        CarrierCredential.tenant_id == tenant_id, CarrierCredential.carrier == carrier))


# --- consent (the router's table, read only) and carrier opt-outs (ours) ------------------------

async def opted_out(session: AsyncSession, tenant_id: str, phone: str, kind: str = "reply",
                    program_id: str | None = None) -> str | None:
    """Why `phone` may not get this non-compliance message, or None. Read right before each send
    (the router owns consent and the do-not-contact list): a STOP processed after a message was
    queued still stops it. A carrier's opt-out report counts until consent is granted again after
    it. Marketing is default-safe: it needs the program's recorded opt-in, whatever a campaign says."""
    if await session.get(DncEntry, (tenant_id, phone)) is not None:
        return "on the do-not-contact list"
    rows = (await session.execute(select(Consent.program_id, Consent.status, Consent.updated_at).where(
        Consent.tenant_id == tenant_id, Consent.phone == phone))).all()
    program = program_id or DEFAULT_PROGRAM
    if any(status == "opted_out" and p == program for p, status, _ in rows):
        return "recipient opted out"
    if kind == "marketing" and not any(p == program and status == "opted_in" for p, status, _ in rows):
        return f"no marketing consent recorded for program '{program}'"
    rows = [(status, at) for _, status, at in rows]
    marker = await session.get(CarrierOptOut, (tenant_id, phone))
    if marker is not None and not any(status == "opted_in" and at > marker.at for status, at in rows):
        code = f" {marker.error_code}" if marker.error_code else ""
        return f"the carrier reported an opt-out ({marker.carrier}{code})"
    return None


async def mark_carrier_opt_out(session: AsyncSession, tenant_id: str, phone: str, carrier: str,
                               code: str | None, at: datetime) -> None:
    row = await session.get(CarrierOptOut, (tenant_id, phone))
    if row is None:
        session.add(CarrierOptOut(tenant_id=tenant_id, phone=phone, carrier=carrier, error_code=code, at=at))
    else:
        row.carrier, row.error_code, row.at = carrier, code, at


# --- messages -----------------------------------------------------------------------------------

async def message_for_action(session: AsyncSession, action_id: str) -> OutboundMessage | None:
    return await session.scalar(select(OutboundMessage).where(OutboundMessage.action_id == action_id))


async def message_by_carrier_id(session: AsyncSession, tenant_id: str, carrier: str,
                                carrier_message_id: str) -> OutboundMessage | None:
    return await session.scalar(select(OutboundMessage).where(
        OutboundMessage.carrier == carrier, OutboundMessage.carrier_message_id == carrier_message_id,
        OutboundMessage.tenant_id == tenant_id).with_for_update())


async def marketing_counts(session: AsyncSession, tenant_id: str, phone: str, day: datetime,
                           week: datetime) -> tuple[int, int]:
    """Marketing messages sent (or being sent) to `phone` since `day` and since `week`."""
    since = func.coalesce(OutboundMessage.sent_at, OutboundMessage.updated_at)
    row = (await session.execute(select(
        func.count().filter(since >= day), func.count().filter(since >= week)).where(
        OutboundMessage.tenant_id == tenant_id, OutboundMessage.phone == phone,
        OutboundMessage.kind == "marketing", OutboundMessage.status.in_(("sending", "sent")),
        since >= week))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def marketing_sent_times(session: AsyncSession, tenant_id: str, phone: str,
                               since: datetime) -> list[datetime]:
    """When marketing messages went (or are going) to `phone` since `since`, from any of the
    tenant's numbers, oldest first: what a state's limit per 24 hours counts."""
    at = func.coalesce(OutboundMessage.sent_at, OutboundMessage.updated_at)
    return list(await session.scalars(select(at).where(
        OutboundMessage.tenant_id == tenant_id, OutboundMessage.phone == phone,
        OutboundMessage.kind == "marketing", OutboundMessage.status.in_(("sending", "sent")),
        at >= since).order_by(at)))


def add_history(session: AsyncSession, message_id: str, at: datetime, status: str,
                rule: str | None = None, reason: str | None = None) -> None:
    session.add(MessageEvent(message_id=message_id, at=at, status=status, rule=rule, reason=reason))


async def history(session: AsyncSession, message_id: str) -> list[MessageEvent]:
    return list(await session.scalars(select(MessageEvent).where(MessageEvent.message_id == message_id)
                                      .order_by(MessageEvent.id)))


async def messages(session: AsyncSession, tenant_id: str, phone: str | None, status: str | None,
                   limit: int) -> list[OutboundMessage]:
    query = select(OutboundMessage).where(OutboundMessage.tenant_id == tenant_id)
    if phone:
        query = query.where(OutboundMessage.phone == phone)
    if status:
        query = query.where(OutboundMessage.status == status)
    return list(await session.scalars(query.order_by(OutboundMessage.created_at.desc()).limit(limit)))


def add_links(session: AsyncSession, rows: list[Link]) -> None:
    session.add_all(rows)


async def links_of(session: AsyncSession, message_id: str) -> list[Link]:
    return list(await session.scalars(select(Link).where(Link.message_id == message_id).order_by(Link.code)))


async def known_carrier_ids(session: AsyncSession, row: OutboundMessage, since: datetime) -> frozenset[str]:
    """Carrier ids already recorded for the tenant's other messages to the same phone since `since`:
    a lookup must not take one of those for this message."""
    return frozenset(await session.scalars(select(OutboundMessage.carrier_message_id).where(
        OutboundMessage.tenant_id == row.tenant_id, OutboundMessage.phone == row.phone,
        OutboundMessage.carrier == row.carrier, OutboundMessage.id != row.id,
        OutboundMessage.carrier_message_id.is_not(None), OutboundMessage.created_at >= since)))


async def history_count(session: AsyncSession, message_id: str, rule: str) -> int:
    """How many history lines of the message carry `rule` (e.g. resends after a lookup)."""
    return await session.scalar(select(func.count()).select_from(MessageEvent).where(
        MessageEvent.message_id == message_id, MessageEvent.rule == rule)) or 0


async def locked_message(session: AsyncSession, message_id: str) -> OutboundMessage | None:
    return await session.scalar(select(OutboundMessage).where(OutboundMessage.id == message_id)
                                .with_for_update())


async def take_over(session: AsyncSession, message_id: str, status: str, epoch: int, claim: str,
                    now: datetime, lease_until: datetime, old_claim: str | None) -> int | None:
    """Claim a row still in `status` at `epoch` if its claim is `old_claim` or its lease ran out.
    A compare-and-set on the epoch, which it bumps: of two workers that read the row alike, one
    wins. Returns the new epoch (the winner's fencing token), or None."""
    mine = OutboundMessage.claim == old_claim if old_claim is not None else false()
    result = await session.execute(
        update(OutboundMessage).where(
            OutboundMessage.id == message_id, OutboundMessage.status == status,
            OutboundMessage.claim_epoch == epoch,
            or_(mine, OutboundMessage.lease_until.is_(None), OutboundMessage.lease_until < now))
        .values(claim=claim, lease_until=lease_until, claim_epoch=epoch + 1)
        .execution_options(synchronize_session=False))
    return epoch + 1 if result.rowcount == 1 else None


async def due(session: AsyncSession, now: datetime, limit: int) -> list[tuple[str, str, str, int]]:
    """(id, status, phone, epoch) of deferred messages now due and of claimed ones whose lease ran
    out, oldest first; locked (SKIP LOCKED) on PostgreSQL so replicas split them."""
    query = (select(OutboundMessage.id, OutboundMessage.status, OutboundMessage.phone,
                    OutboundMessage.claim_epoch).where(or_(
        and_(OutboundMessage.status == "deferred", OutboundMessage.next_attempt_at <= now),
        and_(OutboundMessage.status.in_(("accepted", "sending")), OutboundMessage.lease_until < now)))
        .order_by(OutboundMessage.next_attempt_at).limit(limit))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [(r[0], r[1], r[2], r[3]) for r in (await session.execute(query)).all()]


async def claim_deferred(session: AsyncSession, ids: list[str], claim: str, now: datetime,
                         lease_until: datetime) -> dict[str, int]:
    """Move due deferred rows to `accepted` under `claim`, bumping their epoch; {id: new epoch} of
    the rows this call actually took."""
    if not ids:
        return {}
    result = await session.execute(
        update(OutboundMessage).where(OutboundMessage.id.in_(ids), OutboundMessage.status == "deferred",
                                      OutboundMessage.next_attempt_at <= now)
        .values(status="accepted", claim=claim, lease_until=lease_until, updated_at=now,
                claim_epoch=OutboundMessage.claim_epoch + 1)
        .returning(OutboundMessage.id, OutboundMessage.claim_epoch)
        .execution_options(synchronize_session=False))
    return {r[0]: r[1] for r in result.all()}


async def next_due(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.min(OutboundMessage.next_attempt_at)).where(
        OutboundMessage.status == "deferred"))


# --- rate buckets -------------------------------------------------------------------------------

async def bucket_tat(session: AsyncSession, tenant_id: str, number: str, now: datetime) -> RateBucket:
    """The number's bucket, locked for this transaction (created empty if new)."""
    await session.execute(upsert_insert(session)(RateBucket)
                          .values(tenant_id=tenant_id, number=number, tat=now).on_conflict_do_nothing())
    return (await session.scalars(select(RateBucket).where(
        RateBucket.tenant_id == tenant_id, RateBucket.number == number).with_for_update())).one()


# --- receipts that overtook their send ----------------------------------------------------------

async def keep_receipt(session: AsyncSession, tenant_id: str, carrier: str, carrier_message_id: str,
                       status: str, code: str | None, opted_out: bool, at: datetime) -> None:
    """Keep (or replace) the receipt waiting for its send; the caller decides which status wins."""
    row = await session.get(PendingReceipt, (tenant_id, carrier, carrier_message_id))
    if row is None:
        session.add(PendingReceipt(tenant_id=tenant_id, carrier=carrier,
                                   carrier_message_id=carrier_message_id, status=status, error_code=code,
                                   opted_out=opted_out, at=at))
    else:
        row.status, row.error_code, row.opted_out, row.at = status, code, opted_out, at


async def pending_receipt(session: AsyncSession, tenant_id: str, carrier: str,
                          carrier_message_id: str) -> PendingReceipt | None:
    return await session.get(PendingReceipt, (tenant_id, carrier, carrier_message_id))


async def pop_receipts(session: AsyncSession, tenant_id: str, carrier: str,
                       carrier_message_id: str) -> list[PendingReceipt]:
    rows = list(await session.scalars(select(PendingReceipt).where(
        PendingReceipt.tenant_id == tenant_id, PendingReceipt.carrier == carrier,
        PendingReceipt.carrier_message_id == carrier_message_id)))
    if rows:
        await session.execute(delete(PendingReceipt).where(
            PendingReceipt.tenant_id == tenant_id, PendingReceipt.carrier == carrier,
            PendingReceipt.carrier_message_id == carrier_message_id))
    return rows


# --- tenants (the router's table, read only) ----------------------------------------------------

async def tenant_exists(session: AsyncSession, tenant_id: str) -> bool:
    return await session.get(Tenant, tenant_id) is not None
