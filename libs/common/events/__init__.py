"""Event schemas: one module per topic, one pydantic model per module.

`MODELS` maps each topic to its model; the bus decodes with it.
"""

from libs.common.events import (
    campaign_enrolled,
    link_clicked,
    sms_inbound,
    sms_outbound,
    sms_sent,
    sms_status,
    subscriber_events,
)
from libs.common.events.base import Event, subscriber_key

MODELS: dict[str, type[Event]] = {
    sms_inbound.TOPIC: sms_inbound.InboundSms,
    sms_status.TOPIC: sms_status.StatusUpdate,
    link_clicked.TOPIC: link_clicked.LinkClicked,
    sms_outbound.TOPIC: sms_outbound.SendSms,
    sms_sent.TOPIC: sms_sent.SmsSent,
    subscriber_events.TOPIC: subscriber_events.SubscriberEvent,
    campaign_enrolled.TOPIC: campaign_enrolled.CampaignEnrolled,
}

TOPICS: tuple[str, ...] = tuple(MODELS)

__all__ = ["MODELS", "TOPICS", "Event", "subscriber_key"]
