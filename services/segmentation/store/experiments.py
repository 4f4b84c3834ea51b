"""Experiments and their arms."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bandit import ArmStats
from libs.common.db.models.segmentation import Experiment, ExperimentVariant


async def get(session: AsyncSession, tenant_id: str, experiment_id: str) -> Experiment | None:
    return await session.get(Experiment, (tenant_id, experiment_id))


async def all_of(session: AsyncSession, tenant_id: str) -> list[Experiment]:
    return list(await session.scalars(select(Experiment).where(Experiment.tenant_id == tenant_id)
                                      .order_by(Experiment.created_at.desc())))


async def variants(session: AsyncSession, tenant_id: str,
                   experiment_id: str) -> list[ExperimentVariant]:
    return list(await session.scalars(select(ExperimentVariant).where(
        ExperimentVariant.tenant_id == tenant_id, ExperimentVariant.experiment_id == experiment_id)
        .order_by(ExperimentVariant.position)))


def arms(rows: list[ExperimentVariant]) -> list[ArmStats]:
    return [ArmStats(v.key, v.sends, min(v.successes, v.sends), v.weight) for v in rows]


async def live_in_scope(session: AsyncSession, tenant_id: str, flow_id: str | None,
                        step: str | None, campaign_id: str | None) -> Experiment | None:
    e = Experiment
    query = select(e).where(e.tenant_id == tenant_id, e.state.in_(("running", "promoted")))
    if flow_id:
        query = query.where(e.flow_id == flow_id, e.step == step)
    else:
        query = query.where(e.flow_id.is_(None), e.campaign_id == campaign_id)
    return await session.scalar(query.limit(1))


async def auto_candidates(session: AsyncSession) -> list[Experiment]:
    return list(await session.scalars(select(Experiment).where(
        Experiment.state == "running", Experiment.auto_promote.is_(True))))
