"""A/B-tested prompts as the router tells them: only the prompt is marked as the experiment's send,
and the conversation's facts carry the variant from the step that chose it on (pure, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from libs.common.events.sms_inbound import InboundSms
from services.router.decide import SubscriberState, TenantRules, decide, decide_start
from services.router.experiments import Arm, ExperimentView
from services.router.flows.model import Flow

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PHONE = "+15555550100"

SHOP = Flow.model_validate({"id": "shop", "start": "ask", "steps": {
    "ask": {"prompt": "Shoes or bags?", "options": [
        {"keywords": ["SHOES"], "next": "size",
         "actions": [{"type": "reply", "text": "Shoes are 20% off"}]}]},
    "size": {"prompt": "Your size?", "options": [
        {"keywords": ["S", "M", "L"], "actions": [{"type": "reply", "text": "Noted"}]}]}}})


def experiment(step: str, key: str) -> dict:
    """A live experiment on `step` whose only arm is `key` (the pick is then certain)."""
    arm = Arm(key, f"{key}: {SHOP.steps[step].prompt}", sends=0, successes=0, weight=1.0)
    return {("shop", step): ExperimentView(f"exp-{step}", "fixed", None, (arm,))}


def tenant(experiments: dict) -> TenantRules:
    return replace(TenantRules.build("acme", "Acme", [], {"shop": SHOP}), experiments=experiments)


def inbound(body: str, n: int) -> InboundSms:
    return InboundSms(tenant_id="acme", phone=PHONE, to="+15555550000", body=body,
                      carrier="simulator", carrier_message_id=f"in{n}")


def test_an_experiment_on_the_first_step_is_on_the_started_fact_and_only_its_prompt_is_a_send():
    rules = tenant(experiment("ask", "warm"))
    fx = decide_start("shop", PHONE, "r1", rules, SubscriberState("opted_in"), NOW)
    (started,) = fx.facts
    assert (started.type, started.step, started.variant) == ("conversation_started", "ask", "warm")
    (prompt,) = fx.sends
    assert (prompt.body, prompt.variant, prompt.experiment_id) == ("warm: Shoes or bags?", "warm",
                                                                  "exp-ask")

    conv = next(iter(fx.conversations.values()))
    fx = decide(inbound("shoes", 1), rules, SubscriberState("opted_in", conv), NOW)
    offer, size = fx.sends
    assert (offer.body, offer.variant, offer.experiment_id) == ("Shoes are 20% off", "warm", None)
    assert (size.step, size.variant, size.experiment_id) == ("size", "warm", None)
    assert [(f.type, f.variant) for f in fx.facts] == [("keyword_matched", "warm"),
                                                       ("conversation_advanced", "warm")]


def test_an_experiment_on_a_later_step_is_on_that_step_s_advanced_fact():
    rules = tenant(experiment("size", "big"))
    fx = decide_start("shop", PHONE, "r2", rules, SubscriberState("opted_in"), NOW)
    assert [(f.type, f.variant) for f in fx.facts] == [("conversation_started", None)]
    assert [s.experiment_id for s in fx.sends] == [None]

    conv = next(iter(fx.conversations.values()))
    fx = decide(inbound("shoes", 2), rules, SubscriberState("opted_in", conv), NOW)
    assert [(f.type, f.step, f.variant) for f in fx.facts] == [
        ("keyword_matched", "ask", None), ("conversation_advanced", "size", "big")]
    assert [(s.body, s.experiment_id) for s in fx.sends] == [
        ("Shoes are 20% off", None), ("big: Your size?", "exp-size")]
