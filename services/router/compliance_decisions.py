"""The compliance part of a decision: opting out (of one program, of all of them, or of all but
the consent-exempt ones under the FCC's revoke-all), HELP, opting back in, and the one clarifying
question for an unclear text, each answered in the program's language or the subscriber's. Pure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from services.router import languages, revoke_all
from services.router.compliance import Intent, Understood
from services.router.effects import ConsentChange, ConsentNote, ConvState, Effects
from services.router.flows import engine
from services.router.programs import ProgramDef, fill

if TYPE_CHECKING:
    from libs.common.events.sms_inbound import InboundSms
    from services.router.decide import SubscriberState, TenantRules

OPTED_OUT, OPTED_IN = "opted_out", "opted_in"
CLARIFY_WINDOW = timedelta(hours=24)  # an unclear text within a day of the last question: not asked again


def text_for(tenant: TenantRules, program: ProgramDef, kind: str, language: str, **more: str) -> str:
    return fill(program.text(kind, language, tenant.tenant_texts), tenant.brand, **more)


def _answer_language(program: ProgramDef, understood: Understood) -> str:
    """A program with a language answers in it; one without, in the language the subscriber used."""
    return program.language or understood.language


def comply(fx: Effects, tenant: TenantRules, program: ProgramDef, sub: SubscriberState,
                conv: ConvState | None, understood: Understood, text: str) -> None:
    intent, language = understood.intent, _answer_language(program, understood)
    fx.stage, fx.rule = "compliance", intent.value
    keyword = text.upper()[:64]
    if intent in (Intent.OPT_OUT, Intent.OPT_OUT_ALL):
        _opt_out(fx, tenant, program, sub, conv, intent, keyword, language)
    elif intent is Intent.HELP:
        fx.send(text_for(tenant, program, "help", language), "compliance")
    elif intent is Intent.OPT_IN:
        if sub.consent != OPTED_IN:
            fx.consent = ConsentChange(OPTED_IN, keyword, (program.id,), "re_opt_in")
            fx.fact("consent_changed", consent=OPTED_IN, keyword=keyword, program_id=program.id)
        fx.send(text_for(tenant, program, "opt_in", language), "compliance")


def _opt_out(fx: Effects, tenant: TenantRules, program: ProgramDef, sub: SubscriberState,
             conv: ConvState | None, intent: Intent, keyword: str, language: str) -> None:
    """STOP to one program's number ends that program; STOPALL ends all of them; with the FCC's
    revoke-all in force (and more than one program), STOP ends all but the consent-exempt ones."""
    every = intent is Intent.OPT_OUT_ALL
    wide = not every and len(tenant.programs) > 1 and revoke_all.in_force(tenant.revoke_all_from, fx.now)
    kept: tuple[str, ...] = ()
    evidence = None
    if every:
        programs = tuple(tenant.programs)
    elif wide:
        scope, kept = revoke_all.scope(program.id, {p.id: p.consent_exempt
                                                    for p in tenant.programs.values()})
        status = {**sub.consents, program.id: sub.consent}
        programs = tuple(p for p in scope if status.get(p) != OPTED_OUT)
        if not programs:
            return  # everything in scope is already out: one confirmation was sent, nothing more is
        evidence = revoke_all.evidence(program.id, kept, tenant.revoke_all_from)
    elif sub.consent == OPTED_OUT:
        return  # already out: one confirmation was sent, nothing more is
    else:
        programs = (program.id,)
    fx.consent = ConsentChange(OPTED_OUT, keyword, programs, "revoke_all" if wide else "opt_out",
                               evidence=evidence)
    for program_id in programs:
        fx.fact("consent_changed", consent=OPTED_OUT, keyword=keyword, program_id=program_id,
                reason="revoke_all" if wide and program_id != program.id else None)
    if conv is not None:
        engine.end(fx, conv, "opted out")
    if not (every or wide):
        fx.send(text_for(tenant, program, "opt_out", language), "compliance")
        return
    names = ", ".join(tenant.programs[p].name or p for p in kept)
    more = fill(languages.texts(language).kept, tenant.brand, programs=names) if kept else ""
    fx.send(text_for(tenant, program, "opt_out_all", language, kept=more), "compliance")


def clarify(fx: Effects, tenant: TenantRules, program: ProgramDef, sub: SubscriberState,
             conv: ConvState | None, understood: Understood, msg: InboundSms) -> None:
    """A text that may be a revocation ("I'm done", "not interested"): asked once whether they
    want to stop, rather than guessed. Another unclear text within CLARIFY_WINDOW is not asked
    again (and, like the first, not answered by any campaign); both are kept in the audit trail."""
    fx.stage = "compliance"
    if conv is None:
        fx.transcript.append((None, "in", "subscriber", msg.body))
    evidence = {"text": msg.body, "message_id": msg.carrier_message_id}
    if sub.clarified_at is not None and fx.now - sub.clarified_at < CLARIFY_WINDOW:
        fx.rule = "unclear_opt_out_repeat"
        fx.consent_notes.append(ConsentNote(program.id, "unclear", "clarify_skipped", evidence))
        return
    fx.rule = "unclear_opt_out"
    fx.consent_notes.append(ConsentNote(program.id, "unclear", "clarify_asked", evidence))
    fx.send(text_for(tenant, program, "clarify", _answer_language(program, understood)), "compliance")
