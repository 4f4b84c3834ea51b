"""Running a flow: entering steps, matching replies to options, timers and clicks. Pure: every
outcome is recorded on an `Effects`, nothing is read or written here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.router import matching
from services.router.effects import ConvState, Effects, TimerSpec, WebhookCall
from services.router.flows.model import END, Action, Flow, OptionDef, Step, Trigger

MAX_AUTO_STEPS = 20  # steps entered in one go (prompt-only chains); validation forbids endless ones

FlowLookup = Callable[[str], Flow | None]


@dataclass(frozen=True)
class StepMatcher:
    compiled: matching.Compiled
    by_key: dict[str, OptionDef]
    free_text: OptionDef | None


_MATCHERS: dict[int, tuple[Step, StepMatcher]] = {}


def step_matcher(step: Step) -> StepMatcher:
    """Options compiled once per step definition (steps are immutable and live as long as their
    tenant's cached rules; keyed by identity since pydantic models with lists do not hash)."""
    hit = _MATCHERS.get(id(step))
    if hit is not None and hit[0] is step:
        return hit[1]
    if len(_MATCHERS) > 4096:
        _MATCHERS.clear()
    matcher = _compile_step(step)
    _MATCHERS[id(step)] = (step, matcher)
    return matcher


def _compile_step(step: Step) -> StepMatcher:
    opts, by_key, free = [], {}, None
    for opt in step.options:
        if opt.any:
            free = free or opt
            continue
        by_key[opt.key] = opt
        low, high = opt.range if opt.range else (None, None)
        opts.append(matching.Option(key=opt.key, keywords=tuple(opt.keywords),
                                    synonyms=tuple(opt.synonyms), low=low, high=high,
                                    threshold=opt.threshold or matching.DEFAULT_THRESHOLD))
    return StepMatcher(matching.compile_options(opts), by_key, free)


def fallback_text(step: Step) -> str:
    if step.fallback:
        return step.fallback
    words = step_matcher(step).compiled.valid_replies
    if not words:  # a free-text step: any words will do, but not an empty message
        return "Sorry, we didn't get that. Just reply with a few words."
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return f"Sorry, we didn't recognize that. Reply {listed}."


def start(fx: Effects, flow: Flow, current: ConvState | None, flows: FlowLookup, *,
          campaign_id: str | None = None, variant: str | None = None) -> ConvState | None:
    """Start `flow` (ending the open conversation), or, when the flow is deactivated, nothing:
    then `current` is returned unchanged."""
    if not flow.active:
        return current
    if current is not None and current.open:
        end(fx, current, f"replaced by flow {flow.id}")
    conv = fx.touch(ConvState(id=fx.next_id("conversation"), flow_id=flow.id, step=None,
                              status="active", campaign_id=campaign_id, variant=variant,
                              is_new=True))
    enter(fx, flow, conv, flow.start, flows, first=True)  # emits conversation_started
    return conv


def enter(fx: Effects, flow: Flow, conv: ConvState, step_id: str | None, flows: FlowLookup,
          depth: int = 0, first: bool = False) -> None:
    if step_id is None or step_id == END or depth > MAX_AUTO_STEPS:
        complete(fx, flow, conv)
        return
    step = flow.steps[step_id]
    conv.step, conv.fallbacks = step_id, 0
    fx.touch(conv)
    fx.cancel_timers_of.add(conv.id)
    experiment = fx.experiments.get((flow.id, step_id)) if step.prompt else None
    arm = experiment.pick(fx.seed) if experiment is not None else None  # an A/B test of the prompt
    if arm is not None:
        conv.variant = arm.key  # before the step's fact, so the conversation is counted under it
    fx.fact("conversation_started" if first else "conversation_advanced", conv)
    run_actions(fx, flow, conv, step.actions, flows)
    if not _automated(conv, flow):
        return  # an entry action ended, handed off or replaced the conversation
    if step.prompt:
        fx.send(fx.render(arm.prompt if arm else step.prompt, conv), _kind(fx, flow), conv,
                experiment_id=experiment.id if arm else None)
    for kind, trigger in (("timeout", step.on_timeout), ("no_click", step.on_no_click)):
        if trigger is not None:
            schedule(fx, conv, kind, step_id, trigger)
    if not step.options:
        if step.next:
            enter(fx, flow, conv, step.next, flows, depth + 1)
        elif step.on_timeout is None and step.on_no_click is None and step.on_click is None:
            complete(fx, flow, conv)


def reply(fx: Effects, flow: Flow, conv: ConvState, text: str, raw: str, flows: FlowLookup) -> bool:
    """Match a reply against the current step. False when the step expects nothing (the caller
    then tries campaign keywords) or nothing matched and a campaign keyword should get a chance."""
    step = flow.steps.get(conv.step or "")
    if step is None or not step.options:
        return False
    m = match_option(step, text)
    if m is None:
        return False
    option, found = m
    fx.touch(conv)
    fx.stage, fx.rule, fx.score = f"flow:{found.stage}", f"{flow.id}/{conv.step}/{option.key}", found.score
    fx.fact("keyword_matched", conv, keyword=option.key, reason=found.stage)
    conv.variables[conv.step] = found.number if found.number is not None else (
        raw.strip() if option.any else option.key)
    conv.variables.update(option.set)
    fx.cancel_timers_of.add(conv.id)
    run_actions(fx, flow, conv, option.actions, flows)
    if _automated(conv, flow):
        enter(fx, flow, conv, option.next or END, flows)
    return True


def match_option(step: Step, text: str) -> tuple[OptionDef, matching.Match] | None:
    sm = step_matcher(step)
    found = matching.match(text, sm.compiled)
    if found is not None:
        return sm.by_key[found.key], found
    if sm.free_text is not None and text:
        return sm.free_text, matching.Match("*", "free_text")
    return None


def fallback(fx: Effects, flow: Flow, conv: ConvState, flows: FlowLookup) -> None:
    """Nothing understood the reply: clarify up to `max_fallbacks` times, then a human takes over."""
    step = flow.steps[conv.step]
    conv.fallbacks += 1
    fx.touch(conv)
    fx.stage, fx.rule = "fallback", f"{flow.id}/{conv.step}"
    fx.fact("keyword_unmatched", conv)
    if conv.fallbacks > step.max_fallbacks:
        handoff(fx, conv, "fallback exhausted")
    else:
        fx.send(fx.render(fallback_text(step), conv), "reply", conv)


def timer(fx: Effects, flow: Flow, conv: ConvState, kind: str, step_id: str, flows: FlowLookup) -> None:
    """A timer of the current step fired. The silence timeout closes the step (its pending click
    follow-up and nudge go with it); a click follow-up or a nudge leaves the other timers alone."""
    step = flow.steps.get(step_id)
    if step is None or conv.step != step_id or not conv.open or conv.status == "agent":
        return  # the conversation moved on: a stale timer does nothing
    trigger = {"timeout": step.on_timeout, "no_click": step.on_no_click, "click": step.on_click}[kind]
    if trigger is None:
        return
    fx.stage, fx.rule = f"timer:{kind}", f"{flow.id}/{step_id}"
    if kind == "timeout":
        fx.cancel_timers_of.add(conv.id)
    run_actions(fx, flow, conv, trigger.actions, flows)
    if trigger.next and _automated(conv, flow):
        enter(fx, flow, conv, trigger.next, flows)
    elif kind == "timeout" and not trigger.actions:
        complete(fx, flow, conv)  # silence with nothing to say: the flow is over
    else:
        # what could still fire: the click follow-up after a nudge, the timeout unless it fired
        still = {"timeout": (), "click": (step.on_timeout,),
                 "no_click": (step.on_timeout, step.on_click)}[kind]
        _finish_if_idle(fx, flow, conv, step, still)


def click(fx: Effects, flow: Flow, conv: ConvState, step_id: str | None) -> None:
    """A tracked link of the current step was clicked. A click is not a reply: only the no-click
    nudge is cancelled, the silence timeout keeps its time, and the click follow-up is scheduled
    after its delay (a later click moves it, so there is one follow-up, after the latest)."""
    step = flow.steps.get(conv.step or "")
    if step is None or (step_id and step_id != conv.step):
        return
    fx.stage, fx.rule = "click", f"{flow.id}/{conv.step}"
    if step.on_no_click is not None:
        fx.cancel_timer_kinds.add((conv.id, "no_click"))
    if step.on_click is not None:
        fx.cancel_timer_kinds.add((conv.id, "click"))
        schedule(fx, conv, "click", conv.step, step.on_click)
    else:
        _finish_if_idle(fx, flow, conv, step, (step.on_timeout,))


def _finish_if_idle(fx: Effects, flow: Flow, conv: ConvState, step: Step, still: Sequence) -> None:
    """A step without options waits only for its timers: when none of them can fire any more, the
    flow is complete (rather than open forever with nothing pending)."""
    if _automated(conv, flow) and not step.options and all(t is None for t in still):
        complete(fx, flow, conv)


def schedule(fx: Effects, conv: ConvState, kind: str, step_id: str, trigger: Trigger) -> None:
    """Arm a step's timer. One that lands past the calendar (a definition stored before durations
    had a limit) is skipped and reported; the rest of the step goes on."""
    try:
        due = fx.now + trigger.delay
    except OverflowError:
        fx.problems.append(("timer", f"{conv.flow_id}/{step_id}: the {kind} timer (after "
                                     f"{trigger.after}) cannot be scheduled; skipped"))
        return
    fx.timers.append(TimerSpec(conv.id, kind, step_id, due))


def run_actions(fx: Effects, flow: Flow | None, conv: ConvState | None, actions: Sequence[Action],
                flows: FlowLookup) -> None:
    for action in actions:
        if conv is not None and not conv.open:
            return
        match action.type:
            case "reply":
                fx.send(fx.render(action.text, conv), _kind(fx, flow), conv)
            case "label":
                fx.fact("label_applied", conv, label=action.label)
            case "unlabel":
                fx.fact("label_removed", conv, label=action.label)
            case "score":
                fx.fact("score_event", conv, score_event=action.event)
            case "set":
                fx.fact("attribute_set", conv, attribute=action.attribute, value=action.value)
                if conv is not None:
                    conv.variables[action.attribute] = action.value
            case "start_flow":
                target = flows(action.flow)
                if target is not None and target.active:
                    start(fx, target, conv, flows, campaign_id=conv.campaign_id if conv else None)
                    return
            case "webhook":
                fx.webhooks.append(WebhookCall(fx.next_id("webhook"), action.url, action.secret, {
                    "tenant_id": fx.tenant_id, "phone": fx.phone,
                    "conversation_id": conv.id if conv else None,
                    "flow_id": conv.flow_id if conv else None, "step": conv.step if conv else None,
                    "variables": dict(conv.variables) if conv else {}, "at": fx.now.isoformat()}))
            case "handoff":
                if conv is not None:
                    handoff(fx, conv, action.reason, action.ack)
            case "end":
                if conv is not None and flow is not None:
                    complete(fx, flow, conv)


def _automated(conv: ConvState, flow: Flow) -> bool:
    """Automation may go on: the conversation is still this flow's and no human took it."""
    return conv.status == "active" and conv.flow_id == flow.id


def handoff(fx: Effects, conv: ConvState, reason: str, ack: str | None = None) -> None:
    """A person takes over. The subscriber whose text caused it hears one acknowledgement (the
    action's own `ack`, else the tenant's), never on a compliance path (its message says enough)
    nor when they wrote nothing (a timer, a click, an API start)."""
    first = conv.status != "agent"
    conv.status, conv.handoff_reason = "agent", reason
    fx.cancel_timers_of.add(conv.id)
    fx.touch(conv)
    fx.fact("handed_off", conv, reason=reason)
    text = fx.handoff_text if ack is None else ack
    if first and text and fx.replying and all(s.kind != "compliance" for s in fx.sends):
        fx.send(fx.render(text, conv), "reply", conv)


def complete(fx: Effects, flow: Flow, conv: ConvState) -> None:
    if not conv.open:
        return
    conv.status, conv.end_reason = "completed", "completed"
    fx.cancel_timers_of.add(conv.id)
    fx.touch(conv)
    fx.fact("conversation_completed", conv, reason=flow.completion_event)


def end(fx: Effects, conv: ConvState, reason: str) -> None:
    if not conv.open:
        return
    conv.status, conv.end_reason = "ended", reason
    fx.cancel_timers_of.add(conv.id)
    fx.touch(conv)


def _kind(fx: Effects, flow: Flow | None):
    if fx.replying:
        return "reply"
    return flow.kind if flow is not None else "marketing"
