"""How events change a subscriber's profile, and which message an interaction is attributed to.
Pure functions over plain values; the consumer loads and stores them.

Attribution is last touch: a reply (or opt-out, or conversation event without its own context)
belongs to the latest non-compliance message Parley sent that subscriber before it, within
`ATTRIBUTION_WINDOW`. Comparing event times, not processing order, keeps it right when the
topics are consumed at different speeds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from libs.common.events.link_clicked import LinkClicked
from libs.common.events.sms_inbound import InboundSms
from libs.common.events.sms_sent import SmsSent
from services.segmentation import scoring

ATTRIBUTION_WINDOW = timedelta(days=7)
CONSENT_STATES = ("opted_in", "opted_out")


@dataclass
class Profile:
    consent: str
    first_seen_at: datetime
    first_interaction_at: datetime | None = None
    last_interaction_at: datetime | None = None
    replies: int = 0
    messages_received: int = 0
    clicks: int = 0
    score: int = 0
    quiet_decays: int = 0
    next_decay_at: datetime | None = None


def new_profile(at: datetime) -> Profile:
    return Profile(consent="unknown", first_seen_at=at,
                   next_decay_at=scoring.next_decay_at(at, 0))


def interacted(profile: Profile, at: datetime) -> Profile:
    """A reply or a click: moves the interaction times and restarts the quiet period."""
    first = profile.first_interaction_at
    last = profile.last_interaction_at
    profile.first_interaction_at = at if first is None else min(first, at)
    if last is None or at > last:
        profile.last_interaction_at = at
        profile.quiet_decays = 0
        profile.next_decay_at = scoring.next_decay_at(at, 0)
    return profile


def apply(profile: Profile, event: object, at: datetime) -> Profile:
    """Counters and consent; bot clicks and unsent messages change nothing."""
    if isinstance(event, InboundSms):
        profile.replies += 1
        interacted(profile, at)
    elif isinstance(event, LinkClicked) and not event.is_bot:
        profile.clicks += 1
        interacted(profile, at)
    elif isinstance(event, SmsSent) and event.outcome == "sent":
        profile.messages_received += 1
    return profile


@dataclass(frozen=True)
class Context:
    """What an interaction is attributed to."""

    message_id: str | None = None
    campaign_id: str | None = None
    flow_id: str | None = None
    step: str | None = None
    variant: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.campaign_id or self.flow_id)


def merge(own: Context, last: Context | None) -> Context:
    """The event's own context wins; what it lacks comes from the last message when that message
    is about the same flow or campaign (or the event names neither)."""
    if last is None:
        return own
    if own.empty:
        return last
    same = (own.flow_id and own.flow_id == last.flow_id) or \
           (not own.flow_id and own.campaign_id and own.campaign_id == last.campaign_id)
    if not same:
        return own
    return replace(own, **{f: getattr(last, f) for f in ("message_id", "campaign_id", "flow_id",
                                                          "step", "variant")
                           if getattr(own, f) is None})


def latency_s(sent_at: datetime | None, at: datetime) -> float | None:
    return None if sent_at is None else max((at - sent_at).total_seconds(), 0.0)
