"""What replies mean: a table of real-world replies through the whole decision (compliance,
conversation step, campaign keywords, fallback), pure and without I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from libs.common.events.sms_inbound import InboundSms
from services.router.decide import DEFAULT_HANDOFF, SubscriberState, TenantRules, decide, decide_timer
from services.router.effects import ConvState, PendingOptIn
from services.router.flows import library
from services.router.flows.model import Flow, Rule

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)

SHOES_CAMPAIGN = Rule(id="shoes", keywords=["SHOES"], synonyms=["sneakers"],
                      actions=[{"type": "reply", "text": "Shoes!"}])
BAGS_CAMPAIGN = Rule(id="bags", keywords=["BAGS"], actions=[{"type": "reply", "text": "Bags!"}])
GO_CAMPAIGN = Rule(id="go", keywords=["GO"], actions=[{"type": "reply", "text": "Go!"}])
STOP_SHADOW = Rule(id="stop-shadow", keywords=["STOP"], actions=[{"type": "reply", "text": "ha"}])
DEAL = Rule(id="deal", keywords=["DEAL"], actions=[{"type": "start_flow", "flow": "flash_sale"}])

YES_NO = Flow.model_validate({"id": "yesno", "start": "ask", "steps": {"ask": {
    "prompt": "Want offers? Reply YES or NO", "options": [
        {"keywords": ["YES"], "actions": [{"type": "reply", "text": "yay"}]},
        {"keywords": ["NO"], "actions": [{"type": "reply", "text": "ok"}]}]}}})
CATEGORIES = Flow.model_validate({"id": "cats", "start": "ask", "steps": {"ask": {
    "prompt": "Reply SHOES, BAGS or JACKETS", "options": [
        {"keywords": ["SHOES"]}, {"keywords": ["BAGS"]}, {"keywords": ["JACKETS"]}]}}})
SCALE = Flow.model_validate({"id": "scale", "start": "rate", "steps": {"rate": {
    "prompt": "Rate 1-5", "options": [{"range": [1, 2]}, {"range": [3, 3]}, {"range": [4, 5]}]}}})
GO_NO = Flow.model_validate({"id": "gono", "start": "ask", "steps": {"ask": {
    "prompt": "Reply GO", "options": [{"keywords": ["GO"]}]}}})

FLOWS = {f.id: f for f in [YES_NO, CATEGORIES, SCALE, GO_NO, *library.flows()]}
TENANT = TenantRules.build("acme", "Acme", [SHOES_CAMPAIGN, BAGS_CAMPAIGN, GO_CAMPAIGN, STOP_SHADOW, DEAL],
                           FLOWS)


@dataclass(frozen=True)
class Case:
    text: str
    expect: tuple[str, str | None]  # (stage, rule) — stage may be a prefix such as "flow:"
    flow: str | None = None  # the subscriber's active conversation (at the flow's start step)
    step: str | None = None
    consent: str | None = None


def run(case: Case):
    conv = None
    if case.flow:
        flow = FLOWS[case.flow]
        conv = ConvState(id="c1", flow_id=flow.id, step=case.step or flow.start, status="active")
    msg = InboundSms(tenant_id="acme", phone="+15555550100", to="+15555550000", body=case.text,
                     carrier="simulator", carrier_message_id="m1")
    return decide(msg, TENANT, SubscriberState(case.consent, conv), NOW)


OPT_OUT = ("compliance", "opt_out")
HELP = ("compliance", "help")
OPT_IN = ("compliance", "opt_in")
CASES = {
    # compliance: the STOP family, with punctuation, case, spaces and politeness
    "STOP": Case("STOP", OPT_OUT),
    "Stop.": Case("Stop.", OPT_OUT),
    "stop please": Case("stop please", OPT_OUT),
    "STOP!!": Case("STOP!!", OPT_OUT),
    "  stop  ": Case("  stop  ", OPT_OUT),
    "please unsubscribe": Case("please unsubscribe", OPT_OUT),
    "Unsubscribe": Case("Unsubscribe", OPT_OUT),
    "cancel": Case("cancel", OPT_OUT),
    "END": Case("END", OPT_OUT),
    "quit": Case("quit", OPT_OUT),
    "Revoke": Case("Revoke", OPT_OUT),
    "optout": Case("optout", OPT_OUT),
    "opt out": Case("opt out", OPT_OUT),
    "Opt-Out": Case("Opt-Out", OPT_OUT),
    "STOPALL": Case("STOPALL", ("compliance", "opt_out_all")),
    "ＳＴＯＰ (full width)": Case("ＳＴＯＰ", OPT_OUT),
    "stop 🛑": Case("stop 🛑", OPT_OUT),
    "leave me alone": Case("leave me alone", OPT_OUT),
    "don't text me": Case("don't text me", OPT_OUT),
    "Don’t text me (curly)": Case("Don’t text me", OPT_OUT),
    "remove me": Case("remove me", OPT_OUT),
    "take me off your list": Case("take me off your list", OPT_OUT),
    "no more texts": Case("no more texts", OPT_OUT),
    "Please stop texting me!": Case("Please stop texting me!", OPT_OUT),
    "STOP inside a campaign whose keyword is STOP": Case("STOP", OPT_OUT),
    "stop during a flow": Case("stop", OPT_OUT, flow="welcome"),
    "stop during the quiz": Case("STOP", OPT_OUT, flow="quiz", step="budget"),
    "help": Case("help", HELP),
    "HELP!": Case("HELP!", HELP),
    "info": Case("info", HELP),
    "help during the quiz": Case("HELP", HELP, flow="quiz", step="priority"),
    "START": Case("START", OPT_IN, consent="opted_out"),
    "unstop": Case("unstop", OPT_IN, consent="opted_out"),
    "YES after STOP": Case("YES", OPT_IN, consent="opted_out"),
    "yes please after STOP": Case("yes please", OPT_IN, consent="opted_out"),
    # opted out: silence for anything else
    "hello after STOP": Case("hello", ("opted_out_silent", None), consent="opted_out"),
    "SHOES after STOP": Case("SHOES", ("opted_out_silent", None), consent="opted_out"),
    # campaign keywords: exact, synonyms, fuzzy, short-keyword guard
    "SHOES": Case("SHOES", ("keyword:exact", "shoes")),
    "shoes!": Case("shoes!", ("keyword:exact", "shoes")),
    "Shoes please": Case("Shoes please", ("keyword:exact", "shoes")),
    "sneakers (synonym)": Case("sneakers", ("keyword:synonym", "shoes")),
    "SHOSE (typo)": Case("SHOSE", ("keyword:fuzzy", "shoes")),
    "shoez (typo)": Case("shoez", ("keyword:fuzzy", "shoes")),
    "bgas (swap)": Case("bgas", ("keyword:fuzzy", "bags")),
    "NO is not GO": Case("NO", ("unmatched", None)),
    "GO": Case("GO", ("keyword:exact", "go")),
    "DEAL starts the flash sale": Case("deal", ("keyword:exact", "deal")),
    "YES with no conversation": Case("YES", ("unmatched", None)),
    "YES when opted in is not opt-in": Case("YES", ("unmatched", None), consent="opted_in"),
    # conversation step options: synonyms for YES/NO
    "Yeah": Case("Yeah", ("flow:synonym", "yesno/ask/YES"), flow="yesno"),
    "yep": Case("yep", ("flow:synonym", "yesno/ask/YES"), flow="yesno"),
    "Y": Case("Y", ("flow:synonym", "yesno/ask/YES"), flow="yesno"),
    "sure": Case("sure", ("flow:synonym", "yesno/ask/YES"), flow="yesno"),
    "ok": Case("ok", ("flow:synonym", "yesno/ask/YES"), flow="yesno"),
    "👍": Case("👍", ("flow:synonym", "yesno/ask/YES"), flow="yesno"),
    "yes please": Case("yes please", ("flow:", "yesno/ask/YES"), flow="yesno"),
    "nope": Case("nope", ("flow:synonym", "yesno/ask/NO"), flow="yesno"),
    "nah": Case("nah", ("flow:synonym", "yesno/ask/NO"), flow="yesno"),
    "no thanks": Case("no thanks", ("flow:", "yesno/ask/NO"), flow="yesno"),
    "NO in a YES/NO step": Case("NO", ("flow:exact", "yesno/ask/NO"), flow="yesno"),
    "NO in a GO step falls back": Case("NO", ("fallback", "gono/ask"), flow="gono"),
    # step options: fuzzy against what this step expects
    "SHOSE in the category step": Case("SHOSE", ("flow:fuzzy", "cats/ask/SHOES"), flow="cats"),
    "jakcets": Case("jakcets", ("flow:fuzzy", "cats/ask/JACKETS"), flow="cats"),
    # numbers and ranges
    "4 stars": Case("4 stars", ("flow:number", "scale/rate/4-5"), flow="scale"),
    "4/5": Case("4/5", ("flow:number", "scale/rate/4-5"), flow="scale"),
    "5": Case("5", ("flow:number", "scale/rate/4-5"), flow="scale"),
    "3": Case("3", ("flow:number", "scale/rate/3-3"), flow="scale"),
    "1 out of 5": Case("1 out of 5", ("flow:number", "scale/rate/1-2"), flow="scale"),
    "two": Case("two", ("flow:number", "scale/rate/1-2"), flow="scale"),
    "7 is out of range": Case("7", ("fallback", "scale/rate"), flow="scale"),
    "welcome 1": Case("1", ("flow:exact", "welcome/ask/1"), flow="welcome"),
    "welcome 1 never matches 7": Case("7", ("fallback", "welcome/ask"), flow="welcome"),
    "welcome 'bags'": Case("bags", ("flow:exact", "welcome/ask/2"), flow="welcome"),
    # letters
    "A": Case("A", ("flow:exact", "quiz/priority/A"), flow="quiz"),
    "a)": Case("a)", ("flow:exact", "quiz/priority/A"), flow="quiz"),
    "(b)": Case("(b)", ("flow:exact", "quiz/priority/B"), flow="quiz"),
    "Style": Case("Style", ("flow:exact", "quiz/priority/B"), flow="quiz"),
    # a campaign keyword while in a flow that does not expect it
    "SHOES in the yes/no step": Case("SHOES", ("keyword:exact", "shoes"), flow="yesno"),
    # fallbacks and the unmatched
    "gibberish in a step": Case("asdfgh", ("fallback", "yesno/ask"), flow="yesno"),
    "gibberish without a conversation": Case("asdfgh", ("unmatched", None)),
    "empty body": Case("", ("unmatched", None)),
    "emoji only": Case("🎉🎉", ("unmatched", None)),
    "another script": Case("спасибо", ("unmatched", None)),
    "huge body": Case("shoes " * 400, ("unmatched", None)),
    "free text answer": Case("Faster delivery please", ("flow:free_text", "feedback/thoughts/*"),
                             flow="feedback", step="thoughts"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_reply_meaning(case: Case):
    fx = run(case)
    stage, rule = case.expect
    assert fx.stage == stage or (stage.endswith(":") and fx.stage.startswith(stage)), fx.stage
    assert fx.rule == rule, (fx.stage, fx.rule)


def test_the_table_is_large_enough():
    assert len(CASES) >= 60


def test_opt_out_confirms_once_with_no_marketing_and_records_consent():
    fx = run(Case("Stop.", OPT_OUT))
    assert [s.kind for s in fx.sends] == ["compliance"]
    assert "unsubscribed" in fx.sends[0].body and "%" not in fx.sends[0].body
    assert fx.consent.status == "opted_out" and fx.consent.keyword == "STOP"
    assert [f.type for f in fx.facts] == ["consent_changed"]


def test_a_second_stop_sends_no_second_confirmation():
    fx = run(Case("STOP", OPT_OUT, consent="opted_out"))
    assert fx.sends == [] and fx.consent is None


def test_stop_ends_the_conversation_and_its_timers():
    fx = run(Case("stop", OPT_OUT, flow="welcome"))
    assert fx.conversations["c1"].status == "ended"
    assert "c1" in fx.cancel_timers_of


def test_the_campaign_rule_for_stop_never_fires():
    fx = run(Case("STOP", OPT_OUT))
    assert all(s.body != "ha" for s in fx.sends)


def test_fallback_lists_the_valid_replies_then_hands_off():
    flow = FLOWS["cats"]
    conv = ConvState(id="c1", flow_id="cats", step="ask", status="active")
    msg = lambda n: InboundSms(tenant_id="acme", phone="+15555550100", to="+15555550000",  # noqa: E731
                               body="pizza", carrier="simulator", carrier_message_id=f"m{n}")
    first = decide(msg(1), TENANT, SubscriberState(None, conv), NOW)
    assert first.sends[0].body == "Sorry, we didn't recognize that. Reply SHOES, BAGS or JACKETS."
    decide(msg(2), TENANT, SubscriberState(None, conv), NOW)
    assert conv.fallbacks == 2 and conv.status == "active"
    third = decide(msg(3), TENANT, SubscriberState(None, conv), NOW)
    assert conv.status == "agent" and conv.handoff_reason == "fallback exhausted"
    assert [(s.kind, s.body) for s in third.sends] == [("reply", DEFAULT_HANDOFF)]
    assert [f.type for f in third.facts] == ["keyword_unmatched", "handed_off"]
    fourth = decide(msg(4), TENANT, SubscriberState(None, conv), NOW)
    assert fourth.stage == "agent" and fourth.sends == []  # once per hand-off
    assert flow.steps["ask"].max_fallbacks == 2


def test_the_same_message_decided_twice_yields_the_same_action_ids():
    a, b = run(Case("HELP", HELP)), run(Case("HELP", HELP))
    assert [s.action_id for s in a.sends] == [s.action_id for s in b.sends]


CONCIERGE = Flow.model_validate({"id": "concierge", "start": "hello", "steps": {"hello": {
    "actions": [{"type": "handoff", "reason": "new member"}]}}})
TIMED = Flow.model_validate({"id": "timed", "start": "ask", "steps": {"ask": {
    "prompt": "Reply YES", "options": [{"keywords": ["YES"]}],
    "on_timeout": {"after": "1h", "actions": [{"type": "handoff", "reason": "no answer"}]}}}})
OWN_ACK = Flow.model_validate({"id": "own-ack", "start": "ask", "steps": {"ask": {
    "prompt": "Reply HUMAN", "options": [{"keywords": ["HUMAN"], "actions": [
        {"type": "handoff", "reason": "asked", "ack": "Hold on, {brand} is on it."}]}]}}})


def _tenant(*flows, **texts) -> TenantRules:
    from services.router.programs import ProgramDef

    return TenantRules.build("acme", "Acme", [], {f.id: f for f in flows},
                             [ProgramDef(id="default", welcome_flow="concierge")], **texts)


def _text(body: str, n: int = 1) -> InboundSms:
    return InboundSms(tenant_id="acme", phone="+15555550100", to="+15555550000", body=body,
                      carrier="simulator", carrier_message_id=f"h{n}")


def test_a_hand_off_on_a_compliance_path_sends_no_acknowledgement():
    pending = PendingOptIn("r1", "default", {"channel": "sms"}, NOW + timedelta(hours=1))
    fx = decide(_text("Y"), _tenant(CONCIERGE), SubscriberState(None, None, pending), NOW)
    assert fx.stage == "opt_in_confirmed"
    (conv,) = fx.conversations.values()
    assert conv.status == "agent" and conv.handoff_reason == "new member"
    assert [s.kind for s in fx.sends] == ["compliance"]  # the confirmation only


def test_a_hand_off_the_subscriber_did_not_text_for_sends_no_acknowledgement():
    conv = ConvState(id="c1", flow_id="timed", step="ask", status="active")
    fx = decide_timer("timeout", "ask", conv, _tenant(TIMED, CONCIERGE), "+15555550100", "opted_in",
                      NOW, "t1")
    assert conv.status == "agent" and fx.sends == []


def test_a_handoff_action_may_bring_its_own_acknowledgement():
    conv = ConvState(id="c1", flow_id="own-ack", step="ask", status="active")
    fx = decide(_text("human"), _tenant(OWN_ACK, CONCIERGE), SubscriberState("opted_in", conv), NOW)
    assert conv.status == "agent"
    assert [(s.kind, s.body) for s in fx.sends] == [("reply", "Hold on, Acme is on it.")]


def test_the_tenants_acknowledgement_replaces_the_default_and_empty_turns_it_off():
    conv = lambda: ConvState(id="c1", flow_id="cats", step="ask", status="active", fallbacks=2)  # noqa: E731
    custom = TenantRules.build("acme", "Acme", [], FLOWS, handoff_text="{brand} will call you.")
    fx = decide(_text("pizza"), custom, SubscriberState(None, conv()), NOW)
    assert [s.body for s in fx.sends] == ["Acme will call you."]
    off = TenantRules.build("acme", "Acme", [], FLOWS, handoff_text="")
    fx = decide(_text("pizza"), off, SubscriberState(None, conv()), NOW)
    assert fx.sends == [] and fx.facts[-1].type == "handed_off"
