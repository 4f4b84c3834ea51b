"""What a decision does, collected as plain values: messages to send, facts for segmentation,
consent changes, conversation changes, timers and webhooks. `store.apply` writes them in one
transaction; the consumer publishes the events.

Ids derive from a seed (the inbound message, timer, click or enrollment) so that deciding the same
input twice yields the same action ids, and the sender sends each action once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from libs.common.events import Event
from libs.common.events.sms_outbound import MessageKind, SendSms
from libs.common.events.subscriber_events import SubscriberEvent, SubscriberEventType
from libs.common.placeholders import VARIABLE


def render(template: str, variables: dict[str, Any]) -> str:
    """Fill `{name}` from the conversation; `{link:…}` and unknown names stay for the sender."""
    return VARIABLE.sub(lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0),
                    template)


@dataclass
class ConvState:
    id: str
    flow_id: str | None
    step: str | None
    status: str  # active | agent | completed | ended
    variables: dict[str, Any] = field(default_factory=dict)
    fallbacks: int = 0
    campaign_id: str | None = None
    variant: str | None = None
    handoff_reason: str | None = None
    end_reason: str | None = None
    is_new: bool = False

    @property
    def open(self) -> bool:
        return self.status in ("active", "agent")

    def copy(self) -> ConvState:
        """A copy to decide on: deciding changes a conversation in place (step, variables)."""
        return replace(self, variables=dict(self.variables))


@dataclass(frozen=True)
class ConsentChange:
    status: str  # opted_in | opted_out
    keyword: str | None
    programs: tuple[str, ...]
    event: str  # confirmation | opt_out | re_opt_in
    source: str = "sms"
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class ConsentNote:
    """An audit-trail entry that changes no consent (an unclear text and whether it was asked about)."""

    program_id: str
    status: str
    event: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class OptInRequested:
    id: str
    program_id: str
    expires_at: datetime
    evidence: dict[str, Any]


@dataclass(frozen=True)
class PendingOptIn:
    id: str
    program_id: str
    evidence: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class TimerSpec:
    conversation_id: str
    kind: str  # timeout | click | no_click
    step: str
    due_at: datetime


@dataclass(frozen=True)
class WebhookCall:
    id: str
    url: str
    secret: str | None
    payload: dict[str, Any]


@dataclass
class Effects:
    tenant_id: str
    phone: str
    now: datetime
    seed: str
    replying: bool  # triggered by the subscriber's own text: answers are replies, not marketing
    brand: str = ""
    handoff_text: str = ""  # the acknowledgement a hand-off sends to the subscriber ("" = none)
    experiments: dict = field(default_factory=dict)  # (flow_id, step) → experiments.ExperimentView
    in_reply_to: str | None = None
    reply_from: str | None = None
    program_id: str | None = None  # the program this decision speaks for (consent is per program)
    campaign_id: str | None = None  # for sends outside a conversation (keyword replies, broadcasts)
    variant: str | None = None
    stage: str = "none"
    rule: str | None = None
    score: float | None = None
    sends: list[SendSms] = field(default_factory=list)
    facts: list[SubscriberEvent] = field(default_factory=list)
    consent: ConsentChange | None = None
    consent_notes: list[ConsentNote] = field(default_factory=list)
    opt_in_requested: OptInRequested | None = None
    opt_in_resolved: tuple[str, str] | None = None  # (request id, confirmed | cancelled)
    conversations: dict[str, ConvState] = field(default_factory=dict)
    cancel_timers_of: set[str] = field(default_factory=set)  # every pending timer of these
    cancel_timer_kinds: set[tuple[str, str]] = field(default_factory=set)  # (conversation, kind)
    timers: list[TimerSpec] = field(default_factory=list)
    webhooks: list[WebhookCall] = field(default_factory=list)
    transcript: list[tuple[str | None, str, str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kind, what): parts skipped
    _n: int = 0

    def next_id(self, what: str) -> str:
        self._n += 1
        return uuid.uuid5(uuid.NAMESPACE_URL, f"parley:{self.tenant_id}:{self.seed}:{what}:{self._n}").hex

    def render(self, template: str, conv: ConvState | None) -> str:
        return render(template, {"brand": self.brand, **(conv.variables if conv else {})})

    def send(self, body: str, kind: MessageKind, conv: ConvState | None = None,
             step: str | None = None, experiment_id: str | None = None) -> None:
        """`experiment_id` marks the one message that is an experiment's prompt (its send)."""
        self.sends.append(SendSms(
            tenant_id=self.tenant_id, phone=self.phone, body=body[:1600], kind=kind,
            action_id=self.next_id("send"), from_number=self.reply_from,
            in_reply_to=self.in_reply_to, occurred_at=self.now,
            flow_id=conv.flow_id if conv else None, step=step or (conv.step if conv else None),
            campaign_id=(conv.campaign_id if conv else None) or self.campaign_id,
            variant=(conv.variant if conv else None) or self.variant, program_id=self.program_id,
            experiment_id=experiment_id))
        if conv is not None:
            self.transcript.append((conv.id, "out", "automation", body))

    def fact(self, type_: SubscriberEventType, conv: ConvState | None = None, **fields: Any) -> None:
        if conv is not None:
            fields.setdefault("flow_id", conv.flow_id)
            fields.setdefault("step", conv.step)
            fields.setdefault("campaign_id", conv.campaign_id)
            fields.setdefault("variant", conv.variant)
        self.facts.append(SubscriberEvent(
            tenant_id=self.tenant_id, phone=self.phone, type=type_, occurred_at=self.now,
            event_id=self.next_id("fact"), source_message_id=self.in_reply_to, **fields))

    def touch(self, conv: ConvState) -> ConvState:
        self.conversations[conv.id] = conv
        return conv

    @property
    def events(self) -> list[Event]:
        return [*self.sends, *self.facts]
