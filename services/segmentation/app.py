"""Segmentation wiring: consumes every fact topic, serves /v1/subscribers."""

from libs.common.events import link_clicked, sms_inbound, sms_sent, subscriber_events
from libs.common.service import Service, Subscription
from services.segmentation import api, consumer

TOPICS = (sms_inbound.TOPIC, sms_sent.TOPIC, link_clicked.TOPIC, subscriber_events.TOPIC)


def service() -> Service:
    return Service(
        name="segmentation",
        routers=[api.router],
        subscriptions=[Subscription(t, "segmentation", consumer.handle_event) for t in TOPICS],
    )
