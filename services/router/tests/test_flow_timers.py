"""Timers and clicks of a flow step, decided without I/O: which timers a click or a fired timer
cancels, which it schedules, and when a step with nothing left to wait for completes the flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.common.events.link_clicked import LinkClicked
from services.router.decide import SubscriberState, TenantRules, decide_click, decide_timer
from services.router.effects import ConvState
from services.router.flows import library
from services.router.flows.model import Flow

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PHONE = "+15555550100"

PROMO = Flow.model_validate({"id": "promo", "start": "offer", "steps": {"offer": {
    "prompt": "20% off: {link:https://shop.example/shoes} Reply YES to hold a pair.",
    "options": [{"keywords": ["YES"]}],
    "on_click": {"after": "5m", "actions": [{"type": "reply", "text": "Find your size?"}]},
    "on_no_click": {"after": "20m", "actions": [{"type": "reply", "text": "Don't miss it!"}]},
    "on_timeout": {"after": "1h", "actions": [{"type": "end"}]}}}})
# Steps without options: only their timers can move them on.
NUDGE_ONLY = Flow.model_validate({"id": "nudge", "start": "tip", "steps": {"tip": {
    "prompt": "New arrivals: {link:https://shop.example/new}",
    "on_no_click": {"after": "1h", "actions": [{"type": "reply", "text": "Take a look!"}]}}}})
CLICK_ONLY = Flow.model_validate({"id": "clicky", "start": "tip", "steps": {"tip": {
    "prompt": "New arrivals: {link:https://shop.example/new}",
    "on_click": {"after": "10m", "actions": [{"type": "reply", "text": "Like them?"}]}}}})
REMINDER = Flow.model_validate({"id": "reminder", "start": "tip", "steps": {"tip": {
    "prompt": "Your cart is waiting: {link:https://shop.example/cart}",
    "on_timeout": {"after": "1d", "actions": [{"type": "reply", "text": "Last call!"}]}}}})

FLOWS = {f.id: f for f in [PROMO, NUDGE_ONLY, CLICK_ONLY, REMINDER, *library.flows()]}
TENANT = TenantRules.build("acme", "Acme", [], FLOWS)


def at(flow: Flow, step: str | None = None) -> ConvState:
    return ConvState(id="c1", flow_id=flow.id, step=step or flow.start, status="active")


def click(conv: ConvState, n: int = 1, minutes: int = 10):
    event = LinkClicked(tenant_id="acme", phone=PHONE, code="abc", url="https://shop.example/x",
                        flow_id=conv.flow_id, step=conv.step, occurred_at=NOW, event_id=f"click{n}")
    return decide_click(event, TENANT, SubscriberState("opted_in", conv), NOW + timedelta(minutes=minutes))


def fire(conv: ConvState, kind: str, minutes: int):
    return decide_timer(kind, conv.step, conv, TENANT, PHONE, "opted_in", NOW + timedelta(minutes=minutes),
                        f"timer-{kind}")


def test_a_click_cancels_only_the_no_click_nudge_and_schedules_the_follow_up():
    fx = click(at(PROMO))
    assert fx.cancel_timers_of == set()
    assert fx.cancel_timer_kinds == {("c1", "no_click"), ("c1", "click")}
    assert [(t.kind, t.due_at) for t in fx.timers] == [("click", NOW + timedelta(minutes=15))]


def test_a_click_leaves_the_timeout_at_its_original_time():
    fx = click(at(PROMO))
    assert all(t.kind != "timeout" for t in fx.timers)
    assert all(kind != "timeout" for _, kind in fx.cancel_timer_kinds)


def test_the_click_follow_up_firing_keeps_the_timeout_pending():
    conv = at(PROMO)
    fx = fire(conv, "click", 15)
    assert [s.body for s in fx.sends] == ["Find your size?"]
    assert fx.cancel_timers_of == set() and fx.cancel_timer_kinds == set()
    assert conv.status == "active"


def test_the_flash_sale_click_follow_up_leaves_the_4_hour_end_in_place():
    conv = at(FLOWS["flash_sale"])
    clicked = click(conv)
    assert clicked.cancel_timers_of == set() and [t.kind for t in clicked.timers] == ["click"]
    followed = fire(conv, "click", 40)
    assert len(followed.sends) == 1 and followed.cancel_timers_of == set()
    assert conv.status == "active"
    ended = fire(conv, "timeout", 240)
    assert conv.status == "completed" and "c1" in ended.cancel_timers_of


def test_the_flash_sale_link_expires_with_the_offer():
    prompt = FLOWS["flash_sale"].steps["unlocked"].prompt
    assert "{link:https://shop.example/flash|ttl=4h}" in prompt
    assert FLOWS["flash_sale"].steps["unlocked"].on_timeout.after == "4h"


def test_the_timeout_firing_cancels_the_steps_other_timers():
    conv = at(PROMO)
    fx = fire(conv, "timeout", 60)
    assert "c1" in fx.cancel_timers_of and conv.status == "completed"


def test_a_timeout_that_only_replies_on_a_step_without_options_completes_the_flow():
    conv = at(REMINDER)
    fx = fire(conv, "timeout", 24 * 60)
    assert [s.body for s in fx.sends] == ["Last call!"]
    assert conv.status == "completed"
    assert [f.type for f in fx.facts] == ["conversation_completed"]


def test_a_timeout_that_only_replies_on_a_step_with_options_keeps_waiting_for_the_reply():
    flow = Flow.model_validate({"id": "ask", "start": "q", "steps": {"q": {
        "prompt": "Reply YES", "options": [{"keywords": ["YES"]}],
        "on_timeout": {"after": "1h", "actions": [{"type": "reply", "text": "Still there?"}]}}}})
    tenant = TenantRules.build("acme", "Acme", [], {"ask": flow})
    conv = at(flow)
    fx = decide_timer("timeout", "q", conv, tenant, PHONE, "opted_in", NOW, "t1")
    assert [s.body for s in fx.sends] == ["Still there?"] and conv.status == "active"


def test_the_nudge_firing_on_a_step_with_nothing_else_to_wait_for_completes_the_flow():
    conv = at(NUDGE_ONLY)
    fx = fire(conv, "no_click", 60)
    assert [s.body for s in fx.sends] == ["Take a look!"] and conv.status == "completed"


def test_a_click_on_a_step_with_only_a_nudge_completes_the_flow():
    conv = at(NUDGE_ONLY)
    fx = click(conv)
    assert fx.cancel_timer_kinds == {("c1", "no_click")} and conv.status == "completed"


def test_the_follow_up_on_a_step_with_nothing_else_to_wait_for_completes_the_flow():
    conv = at(CLICK_ONLY)
    fx = fire(conv, "click", 20)
    assert [s.body for s in fx.sends] == ["Like them?"] and conv.status == "completed"


def test_a_second_click_moves_the_single_follow_up_to_after_it():
    conv = at(PROMO)
    first, second = click(conv, 1, minutes=10), click(conv, 2, minutes=12)
    assert ("c1", "click") in second.cancel_timer_kinds
    assert [t.due_at for t in first.timers + second.timers] == [
        NOW + timedelta(minutes=15), NOW + timedelta(minutes=17)]


def test_a_stale_click_or_timer_of_another_step_does_nothing():
    conv = at(FLOWS["welcome"])
    event = LinkClicked(tenant_id="acme", phone=PHONE, code="abc", url="https://shop.example/x",
                        flow_id="welcome", step="elsewhere", occurred_at=NOW)
    fx = decide_click(event, TENANT, SubscriberState("opted_in", conv), NOW)
    assert fx.timers == [] and fx.cancel_timer_kinds == set() and fx.cancel_timers_of == set()
    fx = decide_timer("timeout", "elsewhere", conv, TENANT, PHONE, "opted_in", NOW, "t1")
    assert fx.sends == [] and fx.cancel_timers_of == set()
