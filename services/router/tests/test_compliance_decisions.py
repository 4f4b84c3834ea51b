"""Compliance decisions in full (pure `decide`): answers in the program's language or the
subscriber's, the one clarifying question for an unclear text, and the FCC's revoke-all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from libs.common.events.sms_inbound import InboundSms
from services.router import revoke_all
from services.router.compliance_decisions import CLARIFY_WINDOW
from services.router.decide import SubscriberState, TenantRules, decide
from services.router.effects import ConvState
from services.router.flows.model import Flow, Rule
from services.router.programs import ProgramDef

BEFORE = datetime(2027, 1, 30, 23, 59, tzinfo=UTC)
IN_FORCE = datetime(2027, 1, 31, 0, 0, tzinfo=UTC)
MARKETING = ProgramDef(id="default", name="Offers", numbers=["+15555550000"])
ALERTS = ProgramDef(id="alerts", name="Order alerts", numbers=["+15555550009"], consent_exempt=True)
CLUB = ProgramDef(id="club", name="VIP club", numbers=["+15555550008"])
ESPANOL = ProgramDef(id="ofertas", numbers=["+15555550007"], language="es")
DONE_FLOW = Flow.model_validate({"id": "done", "start": "ask", "steps": {"ask": {
    "prompt": "Reply DONE when you have finished", "options": [{"keywords": ["DONE"]}]}}})
NOTES = Flow.model_validate({"id": "notes", "start": "ask", "steps": {"ask": {
    "prompt": "Anything to tell us?", "options": [{"any": True}]}}})
SHOES = Rule(id="enough", keywords=["ENOUGH"], actions=[{"type": "reply", "text": "Enough deals!"}])


def tenant(*programs: ProgramDef, revoke_all_from: date | None = revoke_all.EFFECTIVE) -> TenantRules:
    return TenantRules.build("acme", "Acme", [SHOES], {f.id: f for f in (DONE_FLOW, NOTES)},
                             list(programs) or None, revoke_all_from=revoke_all_from)


def text(body: str, to: str = "+15555550000", n: int = 1) -> InboundSms:
    return InboundSms(tenant_id="acme", phone="+15555550100", to=to, body=body, carrier="simulator",
                      carrier_message_id=f"m{n}")


@dataclass(frozen=True)
class Said:
    body: str
    to: str = "+15555550000"
    starts: str = ""  # the answer begins with this


LANGUAGE_CASES = {
    "PARAR to an English program answers in Spanish": Said("PARAR", starts="Acme: Se ha dado de baja"),
    "STOP to an English program answers in English": Said("STOP", starts="Acme: You are unsubscribed"),
    "AYUDA answers HELP in Spanish": Said("AYUDA", starts="Acme: mensajes de marketing recurrentes"),
    "HELP answers in English": Said("HELP", starts="Acme: recurring automated marketing texts"),
    "STOP to a Spanish program answers in Spanish": Said("STOP", "+15555550007",
                                                         "Acme: Se ha dado de baja"),
    "HELP to a Spanish program answers in Spanish": Said("HELP", "+15555550007",
                                                         "Acme: mensajes de marketing"),
    "an unclear Spanish text asks in Spanish": Said("basta", starts="Acme: ¿Quiere dejar de recibir"),
    "an unclear English text asks in English": Said("not interested",
                                                    starts="Acme: Do you want to stop getting"),
}


@pytest.mark.parametrize("said", LANGUAGE_CASES.values(), ids=LANGUAGE_CASES.keys())
def test_compliance_answers_in_the_right_language(said: Said):
    fx = decide(text(said.body, said.to), tenant(MARKETING, ESPANOL, revoke_all_from=None),
                SubscriberState("opted_in"), BEFORE)
    (answer,) = fx.sends
    assert answer.kind == "compliance" and answer.body.startswith(said.starts), answer.body


def test_a_program_text_per_language_replaces_the_built_in_one():
    custom = ProgramDef(id="default", texts={"es": {"opt_out": "{brand}: listo, sin más mensajes."}},
                        opt_out_text="{brand}: done, no more texts.")
    rules = tenant(custom, revoke_all_from=None)
    assert decide(text("PARAR"), rules, SubscriberState("opted_in"), BEFORE).sends[0].body == \
        "Acme: listo, sin más mensajes."
    assert decide(text("STOP"), rules, SubscriberState("opted_in"), BEFORE).sends[0].body == \
        "Acme: done, no more texts."


def test_the_double_opt_in_of_a_spanish_program_is_in_spanish_and_si_confirms():
    rules = tenant(ESPANOL, revoke_all_from=None)
    fx = decide(text("JOIN", "+15555550007"), rules, SubscriberState(), BEFORE)
    assert fx.sends[0].body.startswith("Responda SI para recibir mensajes de marketing")
    from services.router.effects import PendingOptIn

    pending = PendingOptIn("r1", "ofertas", {"channel": "sms"}, BEFORE + timedelta(hours=1))
    fx = decide(text("Sí", "+15555550007", 2), rules, SubscriberState(None, None, pending), BEFORE)
    assert fx.stage == "opt_in_confirmed" and fx.sends[0].body.startswith("Acme: ¡Se ha suscrito!")


# --- the one clarifying question -----------------------------------------------------------------

def test_an_unclear_text_is_asked_about_once_and_recorded():
    rules = tenant(revoke_all_from=None)
    fx = decide(text("I'm done"), rules, SubscriberState("opted_in"), BEFORE)
    assert (fx.stage, fx.rule) == ("compliance", "unclear_opt_out")
    assert [s.kind for s in fx.sends] == ["compliance"] and "Reply STOP to unsubscribe" in fx.sends[0].body
    assert fx.consent is None and [(n.status, n.event) for n in fx.consent_notes] == [
        ("unclear", "clarify_asked")]
    again = decide(text("enough", n=2), rules, SubscriberState("opted_in", clarified_at=BEFORE),
                   BEFORE + CLARIFY_WINDOW - timedelta(minutes=1))
    assert (again.rule, again.sends) == ("unclear_opt_out_repeat", [])
    assert [(n.status, n.event) for n in again.consent_notes] == [("unclear", "clarify_skipped")]
    later = decide(text("enough", n=3), rules, SubscriberState("opted_in", clarified_at=BEFORE),
                   BEFORE + CLARIFY_WINDOW)
    assert later.rule == "unclear_opt_out" and len(later.sends) == 1


def test_an_unclear_text_is_never_answered_by_a_campaign():
    fx = decide(text("ENOUGH"), tenant(revoke_all_from=None), SubscriberState("opted_in"), BEFORE)
    assert fx.rule == "unclear_opt_out" and all(s.body != "Enough deals!" for s in fx.sends)


@pytest.mark.parametrize("flow, body, stage", [
    ("done", "done", "flow:exact"),  # the step asked for DONE
    ("notes", "not interested", "flow:free_text"),  # a free-text step: it is the answer
    ("done", "not interested", "compliance"),  # the step did not ask for this
])
def test_a_step_that_asked_for_the_answer_takes_it(flow, body, stage):
    conv = ConvState(id="c1", flow_id=flow, step="ask", status="active")
    fx = decide(text(body), tenant(revoke_all_from=None), SubscriberState("opted_in", conv), BEFORE)
    assert fx.stage == stage


def test_an_opted_out_number_is_not_asked():
    fx = decide(text("I'm done"), tenant(), SubscriberState("opted_out"), BEFORE)
    assert fx.stage == "opted_out_silent" and fx.sends == []


# --- revoke-all ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Revocation:
    body: str
    to: str
    now: datetime
    revoked: tuple[str, ...]
    event: str
    revoke_all_from: date | None = revoke_all.EFFECTIVE
    consents: tuple[tuple[str, str], ...] = (("default", "opted_in"), ("alerts", "opted_in"),
                                             ("club", "opted_in"))


REVOCATIONS = {
    "before the date: only the program texted":
        Revocation("STOP", "+15555550000", BEFORE, ("default",), "opt_out"),
    "from the date: every program but the exempt one":
        Revocation("STOP", "+15555550000", IN_FORCE, ("default", "club"), "revoke_all"),
    "a plain-language revocation counts the same":
        Revocation("please take me off your list", "+15555550008", IN_FORCE, ("default", "club"),
                   "revoke_all"),
    "STOP in reply to the exempt program revokes it too":
        Revocation("STOP", "+15555550009", IN_FORCE, ("default", "alerts", "club"), "revoke_all"),
    "turned off (null): only the program texted":
        Revocation("STOP", "+15555550000", IN_FORCE, ("default",), "opt_out", None),
    "turned on early":
        Revocation("STOP", "+15555550000", BEFORE, ("default", "club"), "revoke_all",
                   date(2026, 12, 1)),
    "programs already out are not revoked twice":
        Revocation("STOP", "+15555550000", IN_FORCE, ("club",), "revoke_all",
                   consents=(("default", "opted_out"), ("club", "opted_in"))),
    "STOPALL ends every program, exempt ones included":
        Revocation("STOPALL", "+15555550000", IN_FORCE, ("default", "alerts", "club"), "opt_out"),
    "PARAR works like STOP": Revocation("PARAR", "+15555550000", IN_FORCE, ("default", "club"),
                                        "revoke_all"),
}


@pytest.mark.parametrize("case", REVOCATIONS.values(), ids=REVOCATIONS.keys())
def test_revoke_all(case: Revocation):
    rules = tenant(MARKETING, ALERTS, CLUB, revoke_all_from=case.revoke_all_from)
    consents = dict(case.consents)
    program = rules.program_for(case.to).id
    fx = decide(text(case.body, case.to), rules,
                SubscriberState(consents.get(program), consents=consents), case.now)
    assert fx.consent.programs == case.revoked and fx.consent.event == case.event
    assert [f.program_id for f in fx.facts if f.type == "consent_changed"] == list(case.revoked)
    assert len(fx.sends) == 1 and fx.sends[0].kind == "compliance"
    if case.event == "revoke_all":
        assert fx.consent.evidence["rule"] == "47 CFR 64.1200(a)(10)"
        assert fx.consent.evidence["replied_to_program"] == program
        assert fx.consent.evidence["in_force_from"] == (case.revoke_all_from or date.min).isoformat()


def test_the_revoke_all_confirmation_says_so_and_names_what_stays():
    rules = tenant(MARKETING, ALERTS, CLUB)
    fx = decide(text("STOP"), rules, SubscriberState("opted_in"), IN_FORCE)
    assert fx.sends[0].body == ("Acme: You are unsubscribed from all Acme texts except Order alerts "
                                "and will receive no more messages. Reply START to resubscribe.")
    assert fx.consent.evidence["kept"] == ["alerts"]
    fx = decide(text("PARAR"), rules, SubscriberState("opted_in"), IN_FORCE)
    assert fx.sends[0].body.startswith("Acme: Se ha dado de baja de todos los mensajes de Acme, "
                                       "excepto Order alerts, y no recibirá más.")


def test_with_one_program_a_stop_is_a_plain_opt_out():
    fx = decide(text("STOP"), tenant(MARKETING), SubscriberState("opted_in"), IN_FORCE)
    assert fx.consent.event == "opt_out" and fx.consent.programs == ("default",)
    assert fx.sends[0].body.startswith("Acme: You are unsubscribed and will receive no more")


def test_a_second_stop_after_revoke_all_sends_nothing():
    consents = {"default": "opted_out", "club": "opted_out", "alerts": "opted_in"}
    fx = decide(text("STOP"), tenant(MARKETING, ALERTS, CLUB),
                SubscriberState("opted_out", consents=consents), IN_FORCE)
    assert fx.consent is None and fx.sends == []


def test_start_after_revoke_all_opts_back_into_the_program_texted_only():
    consents = {"default": "opted_out", "club": "opted_out"}
    fx = decide(text("START", "+15555550008"), tenant(MARKETING, ALERTS, CLUB),
                SubscriberState("opted_out", consents=consents), IN_FORCE)
    assert fx.consent.programs == ("club",) and fx.consent.status == "opted_in"


def test_the_tenants_texts_are_its_english_ones():
    rules = TenantRules.build("acme", "Acme", [], {}, None, help_text="{brand} help: call us.")
    english = decide(text("HELP"), rules, SubscriberState("opted_in"), BEFORE)
    spanish = decide(text("AYUDA"), rules, SubscriberState("opted_in"), BEFORE)
    assert english.sends[0].body == "Acme help: call us."
    assert spanish.sends[0].body.startswith("Acme: mensajes de marketing recurrentes")
