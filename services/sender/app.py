"""Sender wiring: consumes sms.outbound, serves /v1/numbers, /v1/messages and /simulator."""

from libs.common.events import sms_outbound
from libs.common.service import Service, Subscription
from services.sender import api, consumer, demo


def service() -> Service:
    return Service(
        name="sender",
        routers=[api.numbers, api.messages, api.handset],
        subscriptions=[Subscription(sms_outbound.TOPIC, "sender", consumer.handle_outbound)],
        startup=[demo.ensure_demo_number],
    )
