"""/v1/experiments: A/B tests of a prompt. Arms are counted from events; the report gives each
variant's sends, successes, rate with a 95% interval and probability of being best; a winner is
promoted by hand here or automatically by the promotion job."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from libs.common.auth import TenantDep
from libs.common.db.models.segmentation import Experiment, ExperimentVariant
from libs.common.service import CtxDep
from services.segmentation import experiments
from services.segmentation.api.common import new_id
from services.segmentation.schemas import (
    ArmOut,
    ExperimentIn,
    ExperimentOut,
    PromoteIn,
    ReportOut,
    VariantOut,
)
from services.segmentation.store import definitions as flows
from services.segmentation.store import experiments as store

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])


def _out(exp: Experiment, variants: list[ExperimentVariant]) -> ExperimentOut:
    return ExperimentOut(
        **{f: getattr(exp, f) for f in ExperimentOut.model_fields if f != "variants"},
        variants=[VariantOut.model_validate(v, from_attributes=True) for v in variants])


async def _load(session, tenant_id: str, experiment_id: str
                ) -> tuple[Experiment, list[ExperimentVariant]]:
    exp = await store.get(session, tenant_id, experiment_id)
    if exp is None:
        raise HTTPException(404, f"unknown experiment '{experiment_id}'")
    return exp, await store.variants(session, tenant_id, experiment_id)


@router.post("", status_code=201, response_model=ExperimentOut)
async def create_experiment(body: ExperimentIn, tenant_id: TenantDep, ctx: CtxDep) -> ExperimentOut:
    exp = Experiment(
        tenant_id=tenant_id, id=body.id or new_id(), name=body.name, flow_id=body.flow_id,
        step=body.step if body.flow_id else None, campaign_id=body.campaign_id, goal=body.goal,
        allocation=body.allocation, auto_promote=body.auto_promote, threshold=body.threshold,
        min_sends=body.min_sends, state="running", created_at=ctx.clock())
    variants = [ExperimentVariant(tenant_id=tenant_id, experiment_id=exp.id, key=v.key,
                                  prompt=v.prompt, weight=v.weight, position=i, sends=0,
                                  successes=0) for i, v in enumerate(body.variants)]
    async with ctx.sessions() as session, session.begin():
        flow = await flows.flow(session, tenant_id, body.flow_id) if body.flow_id else None
        if problems := experiments.target_problems(body.flow_id, body.step,
                                                   [v.prompt for v in body.variants], flow):
            raise HTTPException(422, [{"loc": ["body", *loc], "msg": msg} for loc, msg in problems])
        if await store.get(session, tenant_id, exp.id) is not None:
            raise HTTPException(409, f"experiment '{exp.id}' exists")
        clash = await store.live_in_scope(session, tenant_id, exp.flow_id, exp.step, exp.campaign_id)
        if clash is not None:
            raise HTTPException(409, f"experiment '{clash.id}' already tests this prompt; stop it first")
        session.add(exp)
        session.add_all(variants)
    return _out(exp, variants)


@router.get("", response_model=list[ExperimentOut])
async def list_experiments(tenant_id: TenantDep, ctx: CtxDep) -> list[ExperimentOut]:
    async with ctx.sessions() as session:
        return [_out(e, await store.variants(session, tenant_id, e.id))
                for e in await store.all_of(session, tenant_id)]


@router.get("/{experiment_id}", response_model=ExperimentOut)
async def get_experiment(experiment_id: str, tenant_id: TenantDep, ctx: CtxDep) -> ExperimentOut:
    async with ctx.sessions() as session:
        return _out(*await _load(session, tenant_id, experiment_id))


@router.get("/{experiment_id}/report", response_model=ReportOut)
async def report(experiment_id: str, tenant_id: TenantDep, ctx: CtxDep) -> ReportOut:
    async with ctx.sessions() as session:
        exp, variants = await _load(session, tenant_id, experiment_id)
    prompts = {v.key: v.prompt for v in variants}
    arms = experiments.report(exp.id, store.arms(variants))
    leader = max(arms, key=lambda a: a.prob_best).key
    return ReportOut(id=exp.id, goal=exp.goal, state=exp.state, winner=exp.winner, leader=leader,
                     threshold=exp.threshold,
                     arms=[ArmOut(key=a.key, prompt=prompts[a.key], sends=a.sends,
                                  successes=a.successes, rate=a.rate, interval95=a.interval95,
                                  prob_best=a.prob_best) for a in arms])


@router.post("/{experiment_id}/promote", response_model=ExperimentOut)
async def promote(experiment_id: str, body: PromoteIn, tenant_id: TenantDep,
                  ctx: CtxDep) -> ExperimentOut:
    """Send every future prompt of this experiment with one variant."""
    async with ctx.sessions() as session, session.begin():
        exp, variants = await _load(session, tenant_id, experiment_id)
        if body.variant not in {v.key for v in variants}:
            raise HTTPException(422, f"variant: '{body.variant}' is not a variant of this experiment")
        if exp.state == "stopped":
            raise HTTPException(409, "the experiment is stopped")
        exp.state, exp.winner, exp.promoted_by, exp.promoted_at = (
            "promoted", body.variant, "hand", ctx.clock())
    return _out(exp, variants)


@router.post("/{experiment_id}/stop", response_model=ExperimentOut)
async def stop(experiment_id: str, tenant_id: TenantDep, ctx: CtxDep) -> ExperimentOut:
    """End the test: the router goes back to the step's own prompt."""
    async with ctx.sessions() as session, session.begin():
        exp, variants = await _load(session, tenant_id, experiment_id)
        exp.state = "stopped"
    return _out(exp, variants)
