"""Segmentation consumers: apply each event once (by event id) to the subscriber's profile, score,
labels, attributes, the message ledger and interactions, all in one transaction with the
subscriber's row locked; Prometheus counters are bumped after it committed.

A reply and the router's verdict on it (keyword_matched / keyword_unmatched, same
`source_message_id`) arrive on different topics in either order: whichever comes first creates the
reply row, the other completes it. The same holds for the text of a reply nothing understood
(`unmatched_reply`, for the insights report): a reply's text waits there until its verdict, which
keeps it (unmatched) or drops it (matched); a verdict that comes first waits for the text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models.segmentation import Interaction, SegmentationMessage, Subscriber
from libs.common.events import Event
from libs.common.events.link_clicked import LinkClicked
from libs.common.events.sms_inbound import InboundSms
from libs.common.events.sms_sent import SmsSent
from libs.common.events.sms_status import StatusUpdate
from libs.common.events.subscriber_events import SubscriberEvent
from libs.common.labels import clean_attribute_name, clean_label
from libs.common.phone import mask
from libs.common.service import Ctx
from services.segmentation import profiles
from services.segmentation.profiles import ATTRIBUTION_WINDOW, Context, merge
from services.segmentation.store import activity, unmatched
from services.segmentation.store import profiles as profile_store
from services.segmentation.telemetry import Tallies

log = structlog.get_logger("parley.segmentation")

VERDICT_WITHOUT_ID_WINDOW = timedelta(hours=1)


@dataclass
class Work:
    session: AsyncSession
    row: Subscriber
    weights: dict[str, int]
    tallies: Tallies
    pending: profile_store.PendingWrites

    async def score(self, rule: str, ref: str, at: datetime) -> None:
        await profile_store.add_score(self.session, self.row, rule, ref, self.weights.get(rule, 0), at)

    def touch(self, event: Event, at: datetime) -> None:
        profile = profiles.apply(profile_store.profile_of(self.row), event, at)
        profile_store.save_profile(self.row, profile)


async def handle_event(event: Event, ctx: Ctx) -> list[Event]:
    return await handle_events([event], ctx)


async def handle_events(events: list[Event], ctx: Ctx) -> list[Event]:
    """Apply a run of events in one transaction, in order, each once: the subscribers they touch
    are locked up front (in phone order), weights read once per tenant."""
    tallies: dict[str, Tallies] = {}
    async with ctx.sessions() as session, session.begin():
        new = await profile_store.first_time(session, [e.event_id for e in events], ctx.clock())
        todo = []
        for event in events:
            if event.event_id in new:
                new.discard(event.event_id)  # the same event twice in one run applies once
                todo.append(event)
        rows: dict[tuple[str, str], Subscriber] = {}
        weights: dict[str, dict[str, int]] = {}
        for tenant_id in sorted({e.tenant_id for e in todo}):
            first_seen: dict[str, datetime] = {}
            for e in todo:
                if e.tenant_id == tenant_id:
                    first_seen.setdefault(e.phone, e.occurred_at)
            locked = await profile_store.locked_subscribers(session, tenant_id, first_seen)
            rows.update(((tenant_id, phone), row) for phone, row in locked.items())
            weights[tenant_id] = await profile_store.weights(session, tenant_id)
            tallies[tenant_id] = Tallies(tenant_id)
        pending = profile_store.PendingWrites()
        for event in todo:
            apply = _APPLY.get(type(event))
            if apply is None:
                continue
            if not _bulk(event):
                await pending.flush(session)  # keep the order: this event may touch the same rows
            await apply(Work(session, rows[(event.tenant_id, event.phone)], weights[event.tenant_id],
                             tallies[event.tenant_id], pending), event)
        await pending.flush(session)
    for t in tallies.values():
        t.publish()
    return []


# --- sends and receipts -------------------------------------------------------------------------

async def on_sent(w: Work, e: SmsSent) -> None:
    if e.outcome == "delivered":  # the sender's own verdict from a receipt: same as sms.status
        await _delivered_by_id(w, e)
        return
    if e.outcome != "sent" or await activity.message(w.session, e.tenant_id, e.message_id):
        return  # only sent messages count, each once (a crashed send is published again)
    w.touch(e, e.occurred_at)
    experiment_id = await activity.experiment_for(w.session, e.tenant_id, e.experiment_id,
                                                  e.flow_id, e.campaign_id, e.variant)
    msg = SegmentationMessage(
        tenant_id=e.tenant_id, message_id=e.message_id, phone=e.phone, carrier=e.carrier,
        carrier_message_id=e.carrier_message_id, kind=e.kind, campaign_id=e.campaign_id,
        flow_id=e.flow_id, step=e.step, variant=e.variant, experiment_id=experiment_id,
        sent_at=e.occurred_at)
    w.session.add(msg)
    w.tallies.add("sent", e.campaign_id)
    if experiment_id:
        await activity.count_arm(w.session, e.tenant_id, experiment_id, e.variant, sends=1)
    early = await activity.receipt(w.session, e.tenant_id, e.carrier, e.carrier_message_id)
    if early is not None and early.status == "delivered":
        await _delivered(w, msg, early.at)


async def on_status(w: Work, e: StatusUpdate) -> None:
    if e.status != "delivered":
        return
    msg = await activity.message_by_carrier_id(w.session, e.tenant_id, e.carrier,
                                               e.carrier_message_id)
    if msg is None:  # the receipt overtook its sms.sent: keep it for when that arrives
        await activity.keep_receipt(w.session, e.tenant_id, e.carrier, e.carrier_message_id,
                                    e.status, e.occurred_at)
        return
    await _delivered(w, msg, e.occurred_at)


async def _delivered_by_id(w: Work, e: SmsSent) -> None:
    msg = await activity.message(w.session, e.tenant_id, e.message_id)
    if msg is not None:
        await _delivered(w, msg, e.occurred_at)
    elif e.carrier and e.carrier_message_id:
        await activity.keep_receipt(w.session, e.tenant_id, e.carrier, e.carrier_message_id,
                                    "delivered", e.occurred_at)


async def _delivered(w: Work, msg: SegmentationMessage, at: datetime) -> None:
    if msg.delivered_at is not None or msg.kind == "compliance":
        return
    msg.delivered_at = at
    await w.score("delivered", msg.message_id, at)
    w.tallies.add("delivered", msg.campaign_id)


# --- replies and the router's verdict on them ---------------------------------------------------

async def on_inbound(w: Work, e: InboundSms) -> None:
    at = e.received_at
    w.touch(e, at)
    await w.score("replied", e.carrier_message_id, at)
    reply = await activity.reply_for(w.session, e.tenant_id, e.phone, e.carrier_message_id[:200])
    if reply is None:
        reply = await _new_reply(w, e.carrier_message_id, at)
        await unmatched.keep_text(w.session, e.tenant_id, e.phone, reply.source_id, at, e.body)
    elif reply.recognised is False:  # its verdict came first
        await unmatched.fill_text(w.session, e.tenant_id, e.phone, reply.source_id, e.body)


async def _new_reply(w: Work, source_id: str, at: datetime) -> Interaction:
    """A reply row attributed to the last message sent before it; the first reply to a message
    is a success for its experiment when the goal is a reply."""
    last = await activity.last_message(w.session, w.row.tenant_id, w.row.phone, at,
                                       ATTRIBUTION_WINDOW)
    latency = profiles.latency_s(last.sent_at if last else None, at)
    reply = activity.add_interaction(w.session, w.row.tenant_id, w.row.phone, "reply", at,
                                     activity.context_of(last), source_id=source_id[:200],
                                     latency_s=latency)
    w.tallies.add("replies", reply.campaign_id)
    if latency is not None:
        w.tallies.reply_seconds.append((reply.campaign_id or "none", latency))
    if last is not None and last.first_reply_at is None:
        last.first_reply_at = at
        await _success(w, last, "reply")
    return reply


async def _success(w: Work, msg: SegmentationMessage, kind: str) -> None:
    if msg.experiment_id is None or msg.variant is None:
        return
    goal = await activity.experiment_goal(w.session, msg.tenant_id, msg.experiment_id)
    if goal == kind:
        await activity.count_arm(w.session, msg.tenant_id, msg.experiment_id, msg.variant,
                                 successes=1)


async def _verdict(w: Work, e: SubscriberEvent) -> None:
    at = e.occurred_at
    if e.source_message_id:
        reply = await activity.reply_for(w.session, e.tenant_id, e.phone, e.source_message_id)
    else:
        reply = await activity.latest_unjudged_reply(w.session, e.tenant_id, e.phone, at,
                                                     VERDICT_WITHOUT_ID_WINDOW)
    if reply is None:
        reply = await _new_reply(w, e.source_message_id or e.event_id, at)
    if reply.recognised is not None:
        return
    reply.recognised = e.type == "keyword_matched"
    await unmatched.judge(w.session, e.tenant_id, e.phone, reply.source_id, reply.at, not reply.recognised,
                          merge(Context(None, e.campaign_id, e.flow_id, e.step, e.variant),
                                Context(reply.message_id, reply.campaign_id, reply.flow_id, reply.step,
                                        reply.variant)))
    if not reply.recognised:
        return
    reply.keyword = (e.keyword or "").strip().upper()[:64] or None
    w.tallies.add("recognised_replies", reply.campaign_id)
    prompt = await _prompt_matched(w, e, reply)
    if prompt is not None and prompt.first_match_at is None:
        prompt.first_match_at = at
        await _success(w, prompt, "keyword")


async def _prompt_matched(w: Work, e: SubscriberEvent,
                          reply: Interaction) -> SegmentationMessage | None:
    """The experiment prompt a recognised reply answers: the message it replies to, when that is
    a prompt; else the last prompt of the step the conversation is at (a fallback came between),
    sent since that conversation started."""
    msg = await activity.message(w.session, e.tenant_id, reply.message_id)
    if msg is not None and msg.experiment_id is not None:
        return msg
    if not (e.flow_id and e.step):
        return None
    since = reply.at - ATTRIBUTION_WINDOW
    started = await activity.last_started(w.session, e.tenant_id, e.phone, reply.at)
    if started is not None and started.flow_id == e.flow_id:
        since = max(since, started.at)
    return await activity.last_prompt(w.session, e.tenant_id, e.phone, e.flow_id, e.step,
                                      since, reply.at)


# --- clicks -------------------------------------------------------------------------------------

async def on_click(w: Work, e: LinkClicked) -> None:
    if e.is_bot:
        return  # unfurlers and HEAD requests never count
    at = e.occurred_at
    w.touch(e, at)
    await w.score("clicked", e.code, at)
    msg = await activity.message(w.session, e.tenant_id, e.message_id)
    ctx = merge(Context(e.message_id, e.campaign_id, e.flow_id, e.step, e.variant),
                activity.context_of(msg))
    first = await activity.clicked_before(w.session, e.tenant_id, e.phone, e.code) is None
    reply_triggered = msg is not None and msg.kind == "reply"
    activity.add_interaction(w.session, e.tenant_id, e.phone, "click", at, ctx,
                             source_id=e.code[:200], tag=(e.tag or None),
                             reply_triggered=reply_triggered)
    if first:
        w.tallies.add("clicks", ctx.campaign_id)
        if reply_triggered:
            w.tallies.add("reply_clicks", ctx.campaign_id)
    if msg is not None and msg.first_click_at is None:
        msg.first_click_at = at
        await _success(w, msg, "click")


# --- subscriber facts from the router -----------------------------------------------------------

async def on_subscriber_event(w: Work, e: SubscriberEvent) -> None:
    handler = _FACTS.get(e.type)
    if handler is not None:
        await handler(w, e)


async def _consent(w: Work, e: SubscriberEvent) -> None:
    if e.consent not in profiles.CONSENT_STATES:
        return
    w.row.consent = e.consent
    if e.consent == "opted_out":
        ctx = await _context(w, e)
        activity.add_interaction(w.session, e.tenant_id, e.phone, "opt_out", e.occurred_at, ctx,
                                 source_id=e.source_message_id)
        w.tallies.add("opt_outs", ctx.campaign_id)


async def _context(w: Work, e: SubscriberEvent) -> Context:
    last = await activity.last_message(w.session, e.tenant_id, e.phone, e.occurred_at,
                                       ATTRIBUTION_WINDOW)
    return merge(Context(None, e.campaign_id, e.flow_id, e.step, e.variant),
                 activity.context_of(last))


async def _label(w: Work, e: SubscriberEvent) -> None:
    label = clean_label(e.label)
    if label is None:
        log.warning("label_ignored", tenant=e.tenant_id, phone=mask(e.phone), label=e.label)
    elif e.type == "label_applied":
        await profile_store.apply_label(w.session, e.tenant_id, e.phone, label, "event",
                                        e.occurred_at)
    else:
        await profile_store.remove_label(w.session, e.tenant_id, e.phone, label)


async def _attribute(w: Work, e: SubscriberEvent) -> None:
    name = clean_attribute_name(e.attribute)
    if name is None:
        log.warning("attribute_ignored", tenant=e.tenant_id, phone=mask(e.phone),
                    attribute=e.attribute)
        return
    value = None if e.value is None else e.value[:500]
    await profile_store.set_attribute(w.session, e.tenant_id, e.phone, name, value, e.occurred_at)


def _bulk(event: Event) -> bool:
    """Events whose writes can wait in PendingWrites (they read nothing another event writes)."""
    return isinstance(event, SubscriberEvent) and event.type == "imported"


async def _imported(w: Work, e: SubscriberEvent) -> None:
    """A bulk-imported subscriber: consent (when it changed), labels and attributes at once."""
    if e.consent in profiles.CONSENT_STATES:
        w.row.consent = e.consent
    ignored = 0
    for raw in e.labels:
        label = clean_label(raw)
        if label is None:
            ignored += 1
        else:
            w.pending.label(e.tenant_id, e.phone, label, "import", e.occurred_at)
    for raw, value in e.attributes.items():
        name = clean_attribute_name(raw)
        if name is None:
            ignored += 1
        else:
            w.pending.attribute(e.tenant_id, e.phone, name, value[:500], e.occurred_at)
    if ignored:
        log.warning("import_fields_ignored", tenant=e.tenant_id, phone=mask(e.phone), ignored=ignored)


async def _score_event(w: Work, e: SubscriberEvent) -> None:
    if e.score_event:
        await w.score(e.score_event.strip().lower()[:64], e.event_id, e.occurred_at)


async def _conversation(w: Work, e: SubscriberEvent) -> None:
    # A flow's facts name their conversation's own context: a new conversation never borrows the
    # variant (or step) of an earlier one's last message.
    ctx = Context(None, e.campaign_id, e.flow_id, e.step, e.variant) if e.flow_id \
        else await _context(w, e)
    activity.add_interaction(w.session, e.tenant_id, e.phone, e.type, e.occurred_at, ctx)
    if e.type != "conversation_started":  # a start already has its own variant
        await _carry_variant(w, e)
    if e.type == "conversation_completed":
        await w.score("completed", e.event_id, e.occurred_at)
    if e.type in ("conversation_started", "conversation_completed"):
        w.tallies.add(e.type.replace("conversation_", "conversations_"), ctx.campaign_id)


async def _carry_variant(w: Work, e: SubscriberEvent) -> None:
    """A conversation counts under the variant it carries, also when a later step chose it: the
    subscriber's open conversation (their latest start, one at a time, facts in order) takes it."""
    if not (e.variant and e.flow_id):
        return
    started = await activity.last_started(w.session, e.tenant_id, e.phone, e.occurred_at)
    if started is not None and started.flow_id == e.flow_id:
        started.variant = e.variant


_FACTS: dict[str, Callable[[Work, SubscriberEvent], Awaitable[None]]] = {
    "consent_changed": _consent,
    "label_applied": _label,
    "label_removed": _label,
    "attribute_set": _attribute,
    "imported": _imported,
    "score_event": _score_event,
    "keyword_matched": _verdict,
    "keyword_unmatched": _verdict,
    "conversation_started": _conversation,
    "conversation_advanced": _carry_variant,
    "conversation_completed": _conversation,
    "handed_off": _conversation,
}

_APPLY: dict[type, Callable[[Work, Event], Awaitable[None]]] = {
    SmsSent: on_sent,
    StatusUpdate: on_status,
    InboundSms: on_inbound,
    LinkClicked: on_click,
    SubscriberEvent: on_subscriber_event,
}
