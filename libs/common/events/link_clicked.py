"""link.clicked: a subscriber opened a tracked link (`/l/{code}`).

Producer: ingress. Consumers: router (click triggers), segmentation. Key: "<tenant_id>:<phone>".
`is_bot` marks link unfurlers and HEAD requests: recorded, but not counted as clicks.
"""

from __future__ import annotations

from pydantic import Field

from libs.common.events.base import Event

TOPIC = "link.clicked"


class LinkClicked(Event):
    TOPIC = TOPIC

    code: str
    url: str
    message_id: str | None = None
    campaign_id: str | None = None
    flow_id: str | None = None
    step: str | None = None
    variant: str | None = None
    tag: str | None = None
    user_agent: str | None = None
    is_bot: bool = False
    bot_reason: str | None = Field(
        None, description="Why `is_bot` is set: `head_request`, `no_user_agent` or `user_agent`."
    )
