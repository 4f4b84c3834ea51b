"""Router consumers: thin async shells around the pure decisions in `decide.py`.

Each handler loads state, decides, writes the decision and returns its events in one
transaction. An inbound message is decided once: its events are stored with the processed id, so
a redelivery (the bus crashed between our commit and its offset commit) returns the same events,
same ids, and downstream deduplication makes the repeat harmless.

Deciding is pure, so a decision that raises would raise on every retry and end as a dead letter,
the subscriber unanswered. It is made again with the tenant's compliance rules only
(`TenantRules.compliance_only`), logged and counted; parts of a definition the engine had to skip
(`Effects.problems`) are logged and counted too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bus import InvalidEvent
from libs.common.events import MODELS, Event
from libs.common.events.campaign_enrolled import CampaignEnrolled
from libs.common.events.link_clicked import LinkClicked
from libs.common.events.sms_inbound import InboundSms
from libs.common.events.subscriber_events import SubscriberEvent
from libs.common.observability import DEFINITION_ERRORS, IGNORED_INBOUND
from libs.common.phone import mask
from libs.common.service import Ctx
from services.router import store
from services.router.decide import (
    SubscriberState,
    TenantRules,
    decide,
    decide_click,
    decide_enrollment,
    decide_start,
    unclear,
)
from services.router.effects import ConsentChange, ConvState, Effects
from services.router.flows import engine
from services.router.rules_cache import tenant_rules

log = structlog.get_logger("parley.router")
S = TypeVar("S", SubscriberState, ConvState)


def _log(fx: Effects, trigger: str) -> None:
    if fx.stage == "ignored":
        IGNORED_INBOUND.labels(reason=fx.rule).inc()
        log.warning("inbound_ignored", tenant=fx.tenant_id, phone=mask(fx.phone), reason=fx.rule)
        return
    log.info("decided", tenant=fx.tenant_id, phone=mask(fx.phone), trigger=trigger, stage=fx.stage,
             rule=fx.rule, score=fx.score, sends=len(fx.sends))


def decide_safely(decide_fn: Callable[[TenantRules, S, datetime], Effects], rules: TenantRules,
                  state: S, now: datetime, trigger: str) -> Effects:
    """`decide_fn(rules, state, now)`; if it raises, the same with compliance only (the first try
    gets a copy of `state`, which deciding changes)."""
    try:
        fx = decide_fn(rules, state.copy(), now)
    except Exception as exc:
        log.error("decision_failed", tenant=rules.tenant_id, trigger=trigger, error=repr(exc),
                  exc_info=True)
        DEFINITION_ERRORS.labels(tenant=rules.tenant_id, kind="decision").inc()
        fx = decide_fn(rules.compliance_only(), state, now)
    for kind, problem in fx.problems:
        log.error("definition_problem", tenant=rules.tenant_id, trigger=trigger, problem=problem)
        DEFINITION_ERRORS.labels(tenant=rules.tenant_id, kind=kind).inc()
    return fx


def _revive(stored: list[dict]) -> list[Event]:
    return [MODELS[item["topic"]].model_validate(item["event"]) for item in stored]


async def _decide_once(ctx: Ctx, tenant_id: str, phone: str, source: str, input_id: str, decide_fn,
                       *, required: bool, source_text: str | None = None,
                       to_number: str | None = None) -> list[Event]:
    """Load state, decide, apply and remember the events, all in one transaction; an input seen
    before returns the events it produced then."""
    async with ctx.sessions() as session, session.begin():
        events, fx = await _decide_in(session, ctx, tenant_id, phone, source, input_id, decide_fn,
                                      required=required, source_text=source_text,
                                      to_number=to_number)
    if fx is not None:
        _log(fx, source)
    return events


async def _decide_in(session: AsyncSession, ctx: Ctx, tenant_id: str, phone: str, source: str,
                     input_id: str, decide_fn, *, required: bool, source_text: str | None,
                     to_number: str | None) -> tuple[list[Event], Effects | None]:
    """`_decide_once` inside the caller's transaction: (events, the decision; None when the input
    was seen before or the tenant is gone)."""
    done = await store.processed(session, tenant_id, source, input_id)
    if done is not None:
        return _revive(done.events), None
    rules = await tenant_rules(ctx, session, tenant_id)
    if rules is None:
        if required:
            raise InvalidEvent(f"unknown tenant {tenant_id!r}")
        return [], None
    now = ctx.clock()
    program = rules.program_for(to_number)
    consents = await store.consents(session, tenant_id, phone)
    sub = SubscriberState(consent=consents.get(program.id), consents=consents,
                          conversation=await store.open_conversation(
                              session, tenant_id, phone, for_update=True),
                          pending=await store.pending_opt_in(session, tenant_id, phone, now),
                          clarified_at=await store.last_clarification(session, tenant_id, phone)
                          if source_text is not None and unclear(source_text, rules, to_number)
                          else None)
    fx = decide_safely(decide_fn, rules, sub, now, source)
    await store.apply(session, fx, source_text=source_text)
    events = fx.events
    store.record_processed(session, tenant_id, source, input_id,
                           [{"topic": e.TOPIC, "event": e.model_dump(mode="json")} for e in events],
                           fx.now)
    return events, fx


async def handle_inbound(event: InboundSms, ctx: Ctx) -> list[Event]:
    return await handle_inbound_batch([event], ctx)


async def handle_inbound_batch(events: list[InboundSms], ctx: Ctx) -> list[Event]:
    """A run of one partition's messages in one transaction, in order (a subscriber's messages
    share a partition, so each is decided on the state the one before it left). The bus hands a
    run over only when records are waiting, so a burst costs one commit per run, not per message;
    if the run fails the bus replays it one message at a time (`handle_inbound`)."""
    produced: list[Event] = []
    decided: list[tuple[Effects, str]] = []
    async with ctx.sessions() as session, session.begin():
        for event in events:
            out, fx = await _decide_in(session, ctx, event.tenant_id, event.phone, event.carrier,
                                       event.carrier_message_id,
                                       lambda rules, sub, now, event=event: decide(event, rules, sub, now),
                                       required=True, source_text=event.body, to_number=event.to)
            produced.extend(out)
            if fx is not None:
                decided.append((fx, event.carrier))
    for fx, source in decided:
        _log(fx, source)
    return produced


async def handle_click(event: LinkClicked, ctx: Ctx) -> list[Event]:
    return await _decide_once(ctx, event.tenant_id, event.phone, "click", event.event_id,
                              lambda rules, sub, now: decide_click(event, rules, sub, now),
                              required=False)


async def handle_enrolled(event: CampaignEnrolled, ctx: Ctx) -> list[Event]:
    return await _decide_once(ctx, event.tenant_id, event.phone, "enrollment", event.enrollment_id,
                              lambda rules, sub, now: decide_enrollment(event, rules, sub, now),
                              required=True)


async def start_flow(ctx: Ctx, tenant_id: str, phone: str, flow_id: str, request_id: str) -> list[Event]:
    """Start a flow for a subscriber (API); publishes its events like a handler's."""
    events = await _decide_once(ctx, tenant_id, phone, "api", request_id,
                                lambda rules, sub, now: decide_start(flow_id, phone, request_id, rules,
                                                                     sub, now),
                                required=True)
    for event in events:
        await ctx.bus.emit(event)
    return events


async def handle_carrier_opt_out(event: SubscriberEvent, ctx: Ctx) -> list[Event]:
    """The sender learnt from a carrier that the recipient opted out (Twilio 21610 and kin): the
    router, which owns consent, records it so nothing more is sent to the number."""
    if event.type != "consent_changed" or event.consent != "opted_out" \
            or not (event.reason or "").startswith("carrier:"):
        return []
    program_id = event.program_id or "default"
    async with ctx.sessions() as session, session.begin():
        if await store.consent(session, event.tenant_id, event.phone, program_id) == "opted_out":
            return []
        fx = Effects(event.tenant_id, event.phone, ctx.clock(), f"carrier:{event.event_id}", False)
        fx.consent = ConsentChange("opted_out", None, (program_id,), "carrier_opt_out", source="carrier",
                                   evidence={"reason": event.reason, "event_id": event.event_id})
        conv = await store.open_conversation(session, event.tenant_id, event.phone, for_update=True)
        if conv is not None:
            engine.end(fx, conv, "carrier opt-out")
        await store.apply(session, fx)
    log.info("carrier_opt_out", tenant=event.tenant_id, phone=mask(event.phone), reason=event.reason)
    return []
