"""How each event changes a subscriber's profile: pure functions over the row's fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libs.common.events import Event
from libs.common.events.link_clicked import LinkClicked
from libs.common.events.sms_inbound import InboundSms
from libs.common.events.sms_sent import SmsSent
from libs.common.events.subscriber_events import SubscriberEvent


@dataclass
class Profile:
    consent: str
    first_seen_at: datetime
    last_interaction_at: datetime
    replies: int = 0
    messages_received: int = 0
    clicks: int = 0


def apply(profile: Profile, event: Event, at: datetime) -> Profile:
    """Fold one event into the profile. Interactions are what the subscriber did."""
    if isinstance(event, InboundSms):
        profile.replies += 1
        profile.last_interaction_at = max(profile.last_interaction_at, at)
    elif isinstance(event, LinkClicked) and not event.is_bot:
        profile.clicks += 1
        profile.last_interaction_at = max(profile.last_interaction_at, at)
    elif isinstance(event, SmsSent) and event.outcome == "sent":
        profile.messages_received += 1
    elif isinstance(event, SubscriberEvent) and event.type == "consent_changed" and event.consent:
        profile.consent = event.consent
    return profile
