"""Router wiring: consumes sms.inbound, serves /v1/tenants."""

from libs.common.events import sms_inbound
from libs.common.service import Service, Subscription
from services.router import api, consumer, demo


def service() -> Service:
    return Service(
        name="router",
        routers=[api.router],
        subscriptions=[Subscription(sms_inbound.TOPIC, "router", consumer.handle_inbound)],
        startup=[demo.ensure_demo_tenant],
    )
