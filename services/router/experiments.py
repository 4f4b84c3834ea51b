"""A/B tests of prompts, from the router's side: when a step with a running experiment sends its
prompt, pick a variant (Thompson sampling or a fixed split, `libs/common/bandit.py`) and send that
variant's prompt; the conversation then carries the variant so every later event and metric can be
split by it. The experiments and their counts are segmentation's tables: the router only reads them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bandit import ArmStats, choose_variant
from libs.common.db.models.segmentation import Experiment, ExperimentVariant


@dataclass(frozen=True)
class Arm:
    key: str
    prompt: str
    sends: int
    successes: int
    weight: float


@dataclass(frozen=True)
class ExperimentView:
    id: str
    allocation: str
    winner: str | None
    arms: tuple[Arm, ...]

    def pick(self, seed: str) -> Arm:
        """Deterministic for a seed, so deciding the same input twice picks the same variant."""
        rng = random.Random(f"{self.id}:{seed}")
        key = choose_variant([ArmStats(a.key, a.sends, a.successes, a.weight) for a in self.arms], rng,
                             allocation=self.allocation, winner=self.winner)
        return next(a for a in self.arms if a.key == key)


async def load(session: AsyncSession, tenant_id: str) -> dict[tuple[str, str], ExperimentView]:
    """Live experiments on flow steps, keyed by (flow_id, step)."""
    experiments = list(await session.scalars(select(Experiment).where(
        Experiment.tenant_id == tenant_id, Experiment.state.in_(("running", "promoted")),
        Experiment.flow_id.is_not(None))))
    if not experiments:
        return {}
    variants = list(await session.scalars(select(ExperimentVariant).where(
        ExperimentVariant.tenant_id == tenant_id,
        ExperimentVariant.experiment_id.in_([e.id for e in experiments]))
        .order_by(ExperimentVariant.position)))
    views = {}
    for exp in experiments:
        arms = tuple(Arm(v.key, v.prompt, v.sends, v.successes, v.weight)
                     for v in variants if v.experiment_id == exp.id)
        if arms:
            views[(exp.flow_id, exp.step)] = ExperimentView(exp.id, exp.allocation, exp.winner, arms)
    return views
