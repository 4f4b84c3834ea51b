"""The message ledger, delivery receipts, interactions and conversions: what metrics and the
`replied`/`clicked` rules read."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.segmentation import (
    Conversion,
    DeliveryReceipt,
    Experiment,
    ExperimentVariant,
    Interaction,
    SegmentationMessage,
)
from libs.common.db.models.sender import Link
from services.segmentation.experiments import LIVE_STATES, Scope, is_send
from services.segmentation.profiles import Context


async def message(session: AsyncSession, tenant_id: str, message_id: str | None
                  ) -> SegmentationMessage | None:
    if not message_id:
        return None
    return await session.get(SegmentationMessage, (tenant_id, message_id))


async def message_by_carrier_id(session: AsyncSession, tenant_id: str, carrier: str,
                                carrier_message_id: str) -> SegmentationMessage | None:
    return await session.scalar(select(SegmentationMessage).where(
        SegmentationMessage.tenant_id == tenant_id, SegmentationMessage.carrier == carrier,
        SegmentationMessage.carrier_message_id == carrier_message_id))


async def last_message(session: AsyncSession, tenant_id: str, phone: str, at: datetime,
                       window: timedelta) -> SegmentationMessage | None:
    """The latest non-compliance message sent to the subscriber at or before `at` (last touch)."""
    m = SegmentationMessage
    return await session.scalar(
        select(m).where(m.tenant_id == tenant_id, m.phone == phone, m.sent_at <= at,
                        m.sent_at >= at - window, m.kind != "compliance")
        .order_by(m.sent_at.desc()).limit(1))


def context_of(row: SegmentationMessage | None) -> Context | None:
    if row is None:
        return None
    return Context(row.message_id, row.campaign_id, row.flow_id, row.step, row.variant)


async def receipt(session: AsyncSession, tenant_id: str, carrier: str | None,
                  carrier_message_id: str | None) -> DeliveryReceipt | None:
    if not carrier or not carrier_message_id:
        return None
    return await session.get(DeliveryReceipt, (tenant_id, carrier, carrier_message_id))


async def keep_receipt(session: AsyncSession, tenant_id: str, carrier: str,
                       carrier_message_id: str, status: str, at: datetime) -> None:
    if await receipt(session, tenant_id, carrier, carrier_message_id) is None:
        session.add(DeliveryReceipt(tenant_id=tenant_id, carrier=carrier,
                                    carrier_message_id=carrier_message_id, status=status, at=at))


async def reply_for(session: AsyncSession, tenant_id: str, phone: str,
                    source_id: str) -> Interaction | None:
    return await session.scalar(select(Interaction).where(
        Interaction.tenant_id == tenant_id, Interaction.phone == phone,
        Interaction.kind == "reply", Interaction.source_id == source_id).limit(1))


async def latest_unjudged_reply(session: AsyncSession, tenant_id: str, phone: str, at: datetime,
                                within: timedelta) -> Interaction | None:
    """The subscriber's latest reply the router has not judged yet (for verdicts without an id)."""
    return await session.scalar(select(Interaction).where(
        Interaction.tenant_id == tenant_id, Interaction.phone == phone, Interaction.kind == "reply",
        Interaction.recognised.is_(None), Interaction.at <= at, Interaction.at >= at - within)
        .order_by(Interaction.at.desc()).limit(1))


async def last_reply(session: AsyncSession, tenant_id: str, phone: str, at: datetime,
                     window: timedelta) -> Interaction | None:
    return await session.scalar(select(Interaction).where(
        Interaction.tenant_id == tenant_id, Interaction.phone == phone, Interaction.kind == "reply",
        Interaction.at <= at, Interaction.at >= at - window)
        .order_by(Interaction.at.desc()).limit(1))


async def last_started(session: AsyncSession, tenant_id: str, phone: str,
                       at: datetime) -> Interaction | None:
    """The subscriber's latest conversation start at or before `at`."""
    i = Interaction
    return await session.scalar(select(i).where(
        i.tenant_id == tenant_id, i.phone == phone, i.kind == "conversation_started", i.at <= at)
        .order_by(i.at.desc(), i.id.desc()).limit(1))


async def clicked_before(session: AsyncSession, tenant_id: str, phone: str,
                         code: str) -> int | None:
    return await session.scalar(select(Interaction.id).where(
        Interaction.tenant_id == tenant_id, Interaction.phone == phone, Interaction.kind == "click",
        Interaction.source_id == code).limit(1))


def add_interaction(session: AsyncSession, tenant_id: str, phone: str, kind: str, at: datetime,
                    ctx: Context | None, **fields) -> Interaction:
    ctx = ctx or Context()
    row = Interaction(tenant_id=tenant_id, phone=phone, kind=kind, at=at,
                      message_id=ctx.message_id, campaign_id=ctx.campaign_id, flow_id=ctx.flow_id,
                      step=ctx.step, variant=ctx.variant, **fields)
    session.add(row)
    return row


async def conversion(session: AsyncSession, tenant_id: str, order_id: str) -> Conversion | None:
    return await session.get(Conversion, (tenant_id, order_id))


# --- experiment arms ----------------------------------------------------------------------------

async def experiment_for(session: AsyncSession, tenant_id: str, marked: str | None,
                         flow_id: str | None, campaign_id: str | None,
                         variant: str | None) -> str | None:
    """The live experiment a message (marked by the router with `marked`, or not) with this
    context and variant key is a send of."""
    if not variant:
        return None
    rows = await session.execute(
        select(Experiment.id, Experiment.flow_id, Experiment.step, Experiment.campaign_id)
        .join(ExperimentVariant, (ExperimentVariant.tenant_id == Experiment.tenant_id)
              & (ExperimentVariant.experiment_id == Experiment.id))
        .where(Experiment.tenant_id == tenant_id, Experiment.state.in_(LIVE_STATES),
               ExperimentVariant.key == variant)
        .order_by(Experiment.created_at.desc()))
    for exp_id, e_flow, e_step, e_campaign in rows:
        if is_send(Scope(e_flow, e_step, e_campaign), exp_id, marked, flow_id, campaign_id):
            return exp_id
    return None


async def last_prompt(session: AsyncSession, tenant_id: str, phone: str, flow_id: str, step: str,
                      since: datetime, at: datetime) -> SegmentationMessage | None:
    """The latest experiment prompt of this step sent to the subscriber in [since, at]."""
    m = SegmentationMessage
    return await session.scalar(
        select(m).where(m.tenant_id == tenant_id, m.phone == phone, m.flow_id == flow_id,
                        m.step == step, m.experiment_id.is_not(None), m.sent_at <= at,
                        m.sent_at >= since)
        .order_by(m.sent_at.desc()).limit(1))


async def experiment_goal(session: AsyncSession, tenant_id: str, experiment_id: str) -> str | None:
    return await session.scalar(select(Experiment.goal).where(
        Experiment.tenant_id == tenant_id, Experiment.id == experiment_id))


async def count_arm(session: AsyncSession, tenant_id: str, experiment_id: str, key: str, *,
                    sends: int = 0, successes: int = 0) -> None:
    """Increment in SQL, so concurrent consumers never lose a count."""
    v = ExperimentVariant
    await session.execute(update(v).where(
        v.tenant_id == tenant_id, v.experiment_id == experiment_id, v.key == key)
        .values(sends=v.sends + sends, successes=v.successes + successes))


async def recent_clicks(session: AsyncSession, tenant_id: str, phone: str,
                        limit: int) -> list[tuple[Interaction, str | None]]:
    """The subscriber's latest human clicks, newest first, with each link's target (the sender's
    `link` table, read only)."""
    rows = await session.execute(
        select(Interaction, Link.url)
        .outerjoin(Link, (Link.code == Interaction.source_id) & (Link.tenant_id == tenant_id))
        .where(Interaction.tenant_id == tenant_id, Interaction.phone == phone,
               Interaction.kind == "click")
        .order_by(Interaction.at.desc(), Interaction.id.desc()).limit(limit))
    return [(row, url) for row, url in rows.all()]
