"""subscriber.events: facts about a subscriber that segmentation turns into data.

Producers: router (consent, keywords, labels, conversations), sender (carrier opt-outs).
Consumer: segmentation. Key: "<tenant_id>:<phone>".
One model with a `type` and the fields each type uses, so a consumer can ignore types it does not
know yet. `imported` is one bulk-imported subscriber in one event (consent when it changed, plus
labels and attributes), so a million-row import is a million events, not four million.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from libs.common.events.base import Event

TOPIC = "subscriber.events"

SubscriberEventType = Literal[
    "consent_changed",
    "label_applied",
    "label_removed",
    "score_event",
    "keyword_matched",
    "keyword_unmatched",
    "conversation_started",
    "conversation_advanced",
    "conversation_completed",
    "handed_off",
    "attribute_set",
    "imported",
]


class SubscriberEvent(Event):
    TOPIC = TOPIC

    type: SubscriberEventType
    consent: Literal["opted_in", "opted_out"] | None = None
    program_id: str | None = None
    label: str | None = None
    keyword: str | None = None
    score_event: str | None = None
    attribute: str | None = None
    value: str | None = None
    campaign_id: str | None = None
    flow_id: str | None = None
    step: str | None = None
    variant: str | None = None
    source_message_id: str | None = Field(None, description="Inbound carrier message id, if any.")
    reason: str | None = None
    labels: tuple[str, ...] = ()  # imported
    attributes: dict[str, str] = Field(default_factory=dict)  # imported
