"""What a subscriber's message means and what to do: pure, no I/O, no clock reads.

Order (DESIGN.md, "compliance first"), after ignoring texts from the tenant's own numbers (loops):
1. compliance: opt-out (STOP family, typos, plain-language revocations, in English and Spanish and
   the program's own words), HELP, opt back in; an unclear text gets one clarifying question;
2. opted-out numbers get no automated answer;
3. a conversation with an agent: automation stays silent;
4. the active conversation's step options (exact, synonym, number, letter, fuzzy);
5. the tenant's campaign keywords (same stages), which may start a flow and end the old one;
6. a clarifying fallback for the current step (then a human), else unmatched (logged, optionally
   handed to an agent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from libs.common.events.campaign_enrolled import CampaignEnrolled
from libs.common.events.link_clicked import LinkClicked
from libs.common.events.sms_inbound import InboundSms
from services.router import compliance, matching, revoke_all
from services.router.compliance import Intent
from services.router.compliance_decisions import OPTED_IN, OPTED_OUT, clarify, comply, text_for
from services.router.effects import ConsentChange, ConvState, Effects, OptInRequested, PendingOptIn
from services.router.flows import engine
from services.router.flows.model import Flow, Rule
from services.router.normalise import normalise
from services.router.programs import DEFAULT_PROGRAM, ProgramDef, implicit_default

DEFAULT_HANDOFF = "Thanks! A team member will reply shortly."


@dataclass(frozen=True)
class TenantRules:
    tenant_id: str
    brand: str
    help_text: str | None = None
    opt_out_text: str | None = None
    opt_in_text: str | None = None
    handoff_text: str | None = None  # None: DEFAULT_HANDOFF; "": no acknowledgement
    fallback_to_agent: bool = False
    rules: tuple[Rule, ...] = ()
    flows: dict[str, Flow] = field(default_factory=dict)
    compiled: matching.Compiled = field(default_factory=matching.Compiled)
    rules_by_key: dict[str, Rule] = field(default_factory=dict)
    programs: dict[str, ProgramDef] = field(default_factory=dict)
    join_words: dict[str, str] = field(default_factory=dict)  # normalised keyword → program id
    program_join_words: frozenset[str] = frozenset()  # the programs' own (not campaigns') join words
    experiments: dict = field(default_factory=dict)  # (flow_id, step) → experiments.ExperimentView
    own_numbers: frozenset[str] = frozenset()  # sending and program numbers: texts from them are loops
    degraded: bool = False  # see compliance_only
    revoke_all_from: date | None = revoke_all.EFFECTIVE  # None: the FCC's revoke-all never applies
    vocabularies: dict[str, compliance.Vocabulary] = field(default_factory=dict)  # per program

    @classmethod
    def build(cls, tenant_id: str, brand: str, rules: list[Rule], flows: dict[str, Flow],
              programs: list[ProgramDef] | None = None, sending_numbers: Iterable[str] = (),
              **texts) -> TenantRules:
        active = tuple(r for r in rules if r.active)
        compiled = matching.compile_options([
            matching.Option(key=r.id, keywords=tuple(r.keywords), synonyms=tuple(r.synonyms),
                            threshold=r.threshold or matching.DEFAULT_THRESHOLD) for r in active])
        progs = {p.id: p for p in (programs or [implicit_default()])}
        own = {normalise(k): p.id for p in progs.values() for k in p.join_keywords}
        join = {**own, **{normalise(k): r.join for r in active if r.join for k in r.keywords}}
        reserved = _tenant_words(active, flows, progs.values())
        return cls(tenant_id, brand, rules=active, flows=flows, compiled=compiled,
                   rules_by_key={r.id: r for r in active}, programs=progs, join_words=join,
                   program_join_words=frozenset(own),
                   own_numbers=frozenset(sending_numbers).union(
                       *(p.numbers for p in progs.values())),
                   vocabularies={p.id: compliance.vocabulary(p.words_by_language, reserved)
                                 for p in progs.values()}, **texts)

    def flow(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    def compliance_only(self) -> TenantRules:
        """What decides when deciding with the tenant's flows and campaigns failed: compliance,
        HELP, double opt-in and the programs' texts still answer; anything else goes to an agent
        (reason "automation error") instead of to a flow or campaign."""
        return dataclasses.replace(
            self, rules=(), flows={}, compiled=matching.Compiled(), rules_by_key={}, experiments={},
            join_words={k: v for k, v in self.join_words.items() if k in self.program_join_words},
            degraded=True)

    def program_for(self, number: str | None) -> ProgramDef:
        """The program a number belongs to; numbers not listed belong to the default program."""
        for program in self.programs.values():
            if number and number in program.numbers:
                return program
        return self.programs.get(DEFAULT_PROGRAM) or next(iter(self.programs.values()))

    def vocabulary(self, program_id: str) -> compliance.Vocabulary:
        return self.vocabularies.get(program_id) or compliance.DEFAULT

    @property
    def tenant_texts(self) -> dict[str, str | None]:
        return {"help": self.help_text, "opt_out": self.opt_out_text, "opt_in": self.opt_in_text}


def _tenant_words(rules: Iterable[Rule], flows: dict[str, Flow], programs: Iterable[ProgramDef]
                  ) -> list[str]:
    """The tenant's own keywords: a reply that is one of them is never taken for a typo of STOP."""
    words = [w for r in rules for w in (*r.keywords, *r.synonyms)]
    words += [w for f in flows.values() for s in f.steps.values() for o in s.options
              for w in (*o.keywords, *o.synonyms)]
    return words + [w for p in programs for w in p.join_keywords]


@dataclass
class SubscriberState:
    consent: str | None = None  # for the program in question: opted_in | opted_out | None
    conversation: ConvState | None = None
    pending: PendingOptIn | None = None  # an unconfirmed, unexpired double opt-in
    consents: dict[str, str] = field(default_factory=dict)  # every program's, when known
    clarified_at: datetime | None = None  # when an unclear text was last answered with the question

    def copy(self) -> SubscriberState:
        """A copy to decide on (only the conversation is changed in place)."""
        return dataclasses.replace(self, conversation=self.conversation.copy() if self.conversation else None)


def _effects(tenant: TenantRules, phone: str, now: datetime, seed: str, replying: bool,
             msg: InboundSms | None = None) -> Effects:
    return Effects(tenant.tenant_id, phone, now, seed, replying, brand=tenant.brand,
                   handoff_text=DEFAULT_HANDOFF if tenant.handoff_text is None else tenant.handoff_text,
                   experiments=tenant.experiments,
                   in_reply_to=msg.carrier_message_id if msg else None,
                   reply_from=msg.to if msg else None)


def unclear(body: str, tenant: TenantRules, to: str | None) -> bool:
    """The text may be a revocation and would be asked about: only then does `decide` need to
    know when the subscriber was last asked (`SubscriberState.clarified_at`)."""
    found = compliance.classify(body, False, tenant.vocabulary(tenant.program_for(to).id))
    return found is not None and found.intent is Intent.UNCLEAR


def decide(msg: InboundSms, tenant: TenantRules, sub: SubscriberState, now: datetime) -> Effects:
    fx = _effects(tenant, msg.phone, now, f"in:{msg.carrier}:{msg.carrier_message_id}", True, msg)
    if msg.phone == msg.to or msg.phone in tenant.own_numbers:
        fx.stage, fx.rule = "ignored", "own_number"  # a loop (our own text came back): never answer
        return fx
    program = tenant.program_for(msg.to)
    fx.program_id = program.id
    conv = sub.conversation if sub.conversation and sub.conversation.open else None
    if conv is not None:
        fx.transcript.append((conv.id, "in", "subscriber", msg.body))
    text = normalise(msg.body)
    understood = compliance.classify(msg.body, sub.consent == OPTED_OUT, tenant.vocabulary(program.id))
    intent = understood.intent if understood is not None else None
    pending = sub.pending if sub.pending and sub.pending.expires_at > now else None
    if understood is not None and intent is not Intent.UNCLEAR:
        comply(fx, tenant, program, sub, conv, understood, text)
        if pending is not None and intent in (Intent.OPT_OUT, Intent.OPT_OUT_ALL):
            fx.opt_in_resolved = (pending.id, "cancelled")
    elif pending is not None and (answer := _yes_or_no(text)) is not None:
        _confirm(fx, tenant, tenant.programs.get(pending.program_id, program), pending, conv, answer,
                 msg)
    elif (join := tenant.join_words.get(text)) is not None and sub.consent != OPTED_IN \
            and pending is None:
        _request_opt_in(fx, tenant, tenant.programs.get(join, program), text, msg)
    elif text in tenant.program_join_words and sub.consent == OPTED_IN:
        fx.stage, fx.rule = "already_subscribed", program.id
        fx.send(text_for(tenant, program, "confirmed", program.language or "en"), "reply")
    elif sub.consent == OPTED_OUT:
        fx.stage = "opted_out_silent"  # kept in the transcript for agents, never answered
        if conv is None:
            fx.transcript.append((None, "in", "subscriber", msg.body))
    elif conv is not None and conv.status == "agent":
        fx.stage, fx.rule = "agent", conv.handoff_reason
    elif intent is Intent.UNCLEAR and not _step_expects(tenant, conv, text):
        clarify(fx, tenant, program, sub, conv, understood, msg)
    else:
        _understand(fx, tenant, conv, text, msg.body)
    return fx


def _step_expects(tenant: TenantRules, conv: ConvState | None, text: str) -> bool:
    """The conversation's step asked for this very answer (an option it names, or free text):
    then "done" or "not interested" answers the question and is not unclear."""
    flow = tenant.flow(conv.flow_id) if conv is not None and conv.flow_id else None
    step = flow.steps.get(conv.step or "") if flow is not None else None
    if step is None or not step.options:
        return False
    found = engine.match_option(step, text)
    return found is not None and found[1].stage != "fuzzy"


def _yes_or_no(text: str) -> bool | None:
    if text in YES_CONFIRM:
        return True
    if text in NO_CONFIRM:
        return False
    return None


YES_CONFIRM = frozenset(matching.DEFAULT_SYNONYMS["yes"]) | {"join", "start"}
NO_CONFIRM = frozenset(matching.DEFAULT_SYNONYMS["no"])


def _request_opt_in(fx: Effects, tenant: TenantRules, program: ProgramDef, keyword: str,
                    msg: InboundSms) -> None:
    """A join keyword: ask for the double opt-in confirmation (a reply to their own text)."""
    fx.stage, fx.rule, fx.program_id = "opt_in_request", program.id, program.id
    fx.opt_in_requested = OptInRequested(
        id=fx.next_id("opt-in"), program_id=program.id,
        expires_at=fx.now + timedelta(hours=program.opt_in_expiry_hours),
        evidence={"channel": "sms", "keyword": keyword.upper(), "message_id": msg.carrier_message_id,
                  "text": msg.body, "to": msg.to, "requested_at": fx.now.isoformat()})
    fx.send(text_for(tenant, program, "confirm_request", program.language or "en"), "reply")


def _confirm(fx: Effects, tenant: TenantRules, program: ProgramDef, pending: PendingOptIn,
             conv: ConvState | None, yes: bool, msg: InboundSms) -> None:
    fx.program_id = program.id
    if not yes:
        fx.stage, fx.rule = "opt_in_declined", program.id
        fx.opt_in_resolved = (pending.id, "cancelled")
        return
    fx.stage, fx.rule = "opt_in_confirmed", program.id
    fx.opt_in_resolved = (pending.id, "confirmed")
    evidence = {**pending.evidence, "request_id": pending.id, "confirmed_by": msg.body,
                "confirmation_message_id": msg.carrier_message_id, "confirmed_at": fx.now.isoformat()}
    fx.consent = ConsentChange(OPTED_IN, "Y", (program.id,), "confirmation",
                               source=str(pending.evidence.get("channel", "sms")), evidence=evidence)
    fx.fact("consent_changed", consent=OPTED_IN, keyword="Y", program_id=program.id)
    fx.send(text_for(tenant, program, "confirmed", program.language or "en"), "compliance")
    if program.welcome_flow and (flow := tenant.flow(program.welcome_flow)) is not None:
        engine.start(fx, flow, conv, tenant.flow, campaign_id=f"welcome:{program.id}")


def _understand(fx: Effects, tenant: TenantRules, conv: ConvState | None, text: str, raw: str) -> None:
    flow = tenant.flow(conv.flow_id) if conv is not None and conv.flow_id else None
    if flow is not None and engine.reply(fx, flow, conv, text, raw, tenant.flow):
        return
    if (found := matching.match(text, tenant.compiled)) is not None:
        rule = tenant.rules_by_key[found.key]
        fx.stage, fx.rule, fx.score = f"keyword:{found.stage}", rule.id, found.score
        fx.fact("keyword_matched", conv, keyword=rule.keywords[0].upper(), campaign_id=rule.id,
                reason=found.stage)
        _run_rule(fx, tenant, rule, conv)
        return
    if flow is not None and conv is not None and flow.steps.get(conv.step or "") and \
            flow.steps[conv.step].options:
        engine.fallback(fx, flow, conv, tenant.flow)
        return
    fx.stage = "unmatched"
    fx.fact("keyword_unmatched", conv)
    if tenant.fallback_to_agent or tenant.degraded:
        target = conv or fx.touch(ConvState(id=fx.next_id("conversation"), flow_id=None, step=None,
                                            status="active", is_new=True))
        if conv is None:
            fx.transcript.append((target.id, "in", "subscriber", raw))
        engine.handoff(fx, target, "automation error" if tenant.degraded else "unmatched")
    elif conv is None:
        fx.transcript.append((None, "in", "subscriber", raw))


def _run_rule(fx: Effects, tenant: TenantRules, rule: Rule, conv: ConvState | None) -> None:
    fx.campaign_id = rule.id  # keyword replies carry the campaign, so metrics split by it
    engine.run_actions(fx, None, conv, [a for a in rule.actions if a.type != "start_flow"],
                       tenant.flow)
    for action in rule.actions:
        if action.type == "start_flow" and (flow := tenant.flow(action.flow)) is not None:
            engine.start(fx, flow, conv, tenant.flow, campaign_id=rule.id)


def decide_timer(timer_kind: str, step: str, conv: ConvState, tenant: TenantRules, phone: str,
                 consent: str | None, now: datetime, timer_id: str) -> Effects:
    fx = _effects(tenant, phone, now, f"timer:{timer_id}", False)
    flow = tenant.flow(conv.flow_id) if conv.flow_id else None
    if consent == OPTED_OUT or flow is None:
        fx.stage = "timer_stale"
        return fx
    engine.timer(fx, flow, conv, timer_kind, step, tenant.flow)
    return fx


def decide_click(click: LinkClicked, tenant: TenantRules, sub: SubscriberState, now: datetime) -> Effects:
    fx = _effects(tenant, click.phone, now, f"click:{click.event_id}", False)
    conv = sub.conversation
    if click.is_bot or conv is None or not conv.open or sub.consent == OPTED_OUT:
        fx.stage = "click_ignored"
        return fx
    flow = tenant.flow(conv.flow_id) if conv.flow_id else None
    if flow is not None and (click.flow_id in (None, conv.flow_id)):
        engine.click(fx, flow, conv, click.step)
    return fx


def decide_enrollment(enr: CampaignEnrolled, tenant: TenantRules, sub: SubscriberState,
                      now: datetime) -> Effects:
    fx = _effects(tenant, enr.phone, now, f"enrolled:{enr.enrollment_id}", False)
    if sub.consent == OPTED_OUT:
        fx.stage = "enrollment_skipped_opted_out"
        return fx
    conv = sub.conversation if sub.conversation and sub.conversation.open else None
    if conv is not None and conv.status == "agent":
        fx.stage = "enrollment_skipped_agent"
        return fx
    fx.stage, fx.rule = "enrollment", enr.broadcast_id
    if enr.flow_id:
        flow = tenant.flow(enr.flow_id)
        if flow is None:
            fx.stage = "enrollment_unknown_flow"
            return fx
        engine.start(fx, flow, conv, tenant.flow, campaign_id=enr.broadcast_id, variant=enr.variant)
    elif enr.body:
        fx.campaign_id, fx.variant = enr.broadcast_id, enr.variant
        fx.send(enr.body, "marketing")
    return fx


def decide_start(flow_id: str, phone: str, request_id: str, tenant: TenantRules, sub: SubscriberState,
                 now: datetime) -> Effects:
    """A flow started for a subscriber over the API (e.g. post-purchase feedback after an order)."""
    fx = _effects(tenant, phone, now, f"api:{request_id}", False)
    flow = tenant.flow(flow_id)
    if sub.consent == OPTED_OUT or flow is None:
        fx.stage = "start_refused_opted_out" if flow else "start_unknown_flow"
        return fx
    conv = sub.conversation if sub.conversation and sub.conversation.open else None
    fx.stage, fx.rule = "api_start", flow_id
    engine.start(fx, flow, conv, tenant.flow)
    return fx
