"""Whatever a subscriber sends, the decision never crashes and compliance words always win."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.events.sms_inbound import InboundSms
from services.router.decide import SubscriberState, TenantRules, decide
from services.router.effects import ConvState
from services.router.flows import library

TENANT = TenantRules.build("acme", "Acme", library.campaigns(), {f.id: f for f in library.flows()})
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def msg(body: str) -> InboundSms:
    return InboundSms(tenant_id="acme", phone="+15555550100", to="+15555550000", body=body,
                      carrier="simulator", carrier_message_id="m")


@settings(max_examples=400, deadline=None)
@given(body=st.text(max_size=2000), step=st.sampled_from(["welcome/ask", "quiz/priority", "quiz/budget",
                                                          "feedback/rate", "feedback/thoughts", None]),
       consent=st.sampled_from([None, "opted_in", "opted_out"]))
def test_any_text_in_any_state_gets_a_decision(body, step, consent):
    conv = None
    if step:
        flow_id, step_id = step.split("/")
        conv = ConvState(id="c", flow_id=flow_id, step=step_id, status="active")
    fx = decide(msg(body), TENANT, SubscriberState(consent, conv), NOW)
    assert fx.stage
    assert all(len(s.body) <= 1600 for s in fx.sends)
    if consent == "opted_out":
        assert all(s.kind == "compliance" for s in fx.sends)


@settings(max_examples=200, deadline=None)
@given(word=st.sampled_from(["stop", "STOP", "Stop.", "unsubscribe", "cancel", "quit", "end"]),
       before=st.sampled_from(["", " ", "please ", "  "]),
       after=st.sampled_from(["", "!", "!!", ".", " please"]),
       step=st.sampled_from(["welcome/ask", "quiz/priority", "feedback/thoughts"]))
def test_stop_words_win_in_every_conversation_state(word, before, after, step):
    flow_id, step_id = step.split("/")
    conv = ConvState(id="c", flow_id=flow_id, step=step_id, status="active")
    fx = decide(msg(before + word + after), TENANT, SubscriberState("opted_in", conv), NOW)
    assert (fx.stage, fx.rule) == ("compliance", "opt_out")
