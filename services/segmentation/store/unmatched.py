"""Queries for the replies nothing understood (`unmatched_reply`): keeping a reply's text until
its verdict, and reading the texts and the options they were matched against for the report.
Makes no decisions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.router import CampaignRule, FlowDefinition
from libs.common.db.models.segmentation import UnmatchedReply
from services.segmentation.insights import MAX_RAW, Row, normalise
from services.segmentation.profiles import Context

U = UnmatchedReply


async def _row(session: AsyncSession, tenant_id: str, phone: str, source_id: str) -> UnmatchedReply | None:
    return await session.scalar(select(U).where(U.tenant_id == tenant_id, U.phone == phone,
                                                U.source_id == source_id))


async def keep_text(session: AsyncSession, tenant_id: str, phone: str, source_id: str, at: datetime,
                    raw: str) -> None:
    """A reply whose verdict has not come yet: its text waits, unjudged."""
    session.add(U(tenant_id=tenant_id, phone=phone, source_id=source_id, at=at, judged=False,
                  raw=raw[:MAX_RAW], text=normalise(raw) or None))


async def fill_text(session: AsyncSession, tenant_id: str, phone: str, source_id: str, raw: str) -> None:
    """The reply of a verdict that came first: its text completes the row."""
    row = await _row(session, tenant_id, phone, source_id)
    if row is not None and row.raw is None:
        row.raw, row.text = raw[:MAX_RAW], normalise(raw) or None


async def judge(session: AsyncSession, tenant_id: str, phone: str, source_id: str, at: datetime,
                unmatched: bool, ctx: Context) -> None:
    """The router's verdict: an unmatched reply is kept with where it was answered (its text now,
    or when the reply comes); a matched one's waiting text is dropped."""
    row = await _row(session, tenant_id, phone, source_id)
    if not unmatched:
        if row is not None:
            await session.delete(row)
        return
    if row is None:
        row = U(tenant_id=tenant_id, phone=phone, source_id=source_id, at=at)
        session.add(row)
    row.judged = True
    row.campaign_id, row.flow_id, row.step, row.variant = ctx.campaign_id, ctx.flow_id, ctx.step, ctx.variant


def _scope(tenant_id: str, filters: Mapping[str, str], since: datetime, until: datetime) -> Any:
    return and_(U.tenant_id == tenant_id, U.judged.is_(True), U.text.is_not(None),
                U.at >= since, U.at < until, *(getattr(U, k) == v for k, v in filters.items()))


async def texts(session: AsyncSession, tenant_id: str, filters: Mapping[str, str], since: datetime,
                until: datetime, max_texts: int, max_rows: int) -> tuple[int, int, list[Row]]:
    """(unmatched replies in scope, distinct texts, rows of the `max_texts` most frequent texts —
    the most recent first among equals — split by raw text and where they were answered)."""
    scope = _scope(tenant_id, filters, since, until)
    total, distinct = (await session.execute(
        select(func.count(), func.count(func.distinct(U.text))).where(scope))).one()
    top = [t for (t,) in (await session.execute(
        select(U.text).where(scope).group_by(U.text)
        .order_by(func.count().desc(), func.max(U.at).desc(), U.text).limit(max_texts))).all()]
    if not top:
        return int(total or 0), int(distinct or 0), []
    result = await session.execute(
        select(U.text, U.raw, U.flow_id, U.step, U.campaign_id, func.count()).where(scope, U.text.in_(top))
        .group_by(U.text, U.raw, U.flow_id, U.step, U.campaign_id)
        .order_by(func.count().desc()).limit(max_rows))
    rows = [Row(text, raw or text, int(n), flow_id, step, campaign_id)
            for text, raw, flow_id, step, campaign_id, n in result.all()]
    return int(total or 0), int(distinct or 0), rows


async def flow_definitions(session: AsyncSession, tenant_id: str, flow_ids: set[str]) -> dict[str, Any]:
    """The router's stored flow definitions (its table, read only)."""
    if not flow_ids:
        return {}
    rows = await session.execute(select(FlowDefinition.id, FlowDefinition.definition).where(
        FlowDefinition.tenant_id == tenant_id, FlowDefinition.id.in_(flow_ids)))
    return {flow_id: definition for flow_id, definition in rows.all()}


async def campaign_rules(session: AsyncSession, tenant_id: str) -> dict[str, Any]:
    """The tenant's active campaign keyword rules (the router's table, read only)."""
    rows = await session.execute(select(CampaignRule.id, CampaignRule.definition).where(
        CampaignRule.tenant_id == tenant_id, CampaignRule.active.is_(True)))
    return {rule_id: definition for rule_id, definition in rows.all()}
