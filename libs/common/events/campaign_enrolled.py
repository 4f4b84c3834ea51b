"""campaign.enrolled: a subscriber was put into a campaign by a broadcast.

Producer: segmentation (broadcasts). Consumer: router (starts the flow or sends the message).
Key: "<tenant_id>:<phone>". `enrollment_id` is unique per subscriber and broadcast, so a
redelivered enrollment starts nothing twice.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from libs.common.events.base import Event

TOPIC = "campaign.enrolled"


class CampaignEnrolled(Event):
    TOPIC = TOPIC

    enrollment_id: str
    broadcast_id: str
    flow_id: str | None = None
    body: str | None = Field(None, max_length=1600)
    variant: str | None = None

    @model_validator(mode="after")
    def _flow_or_body(self) -> CampaignEnrolled:
        if not (self.flow_id or self.body):
            raise ValueError("an enrollment needs a flow_id or a body")
        return self
