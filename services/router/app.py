"""Router wiring: consumes sms.inbound, link.clicked and campaign.enrolled; fires timers and
forwards webhooks; serves /v1/tenants, /v1/campaigns, /v1/flows and /v1/conversations."""

from libs.common.events import campaign_enrolled, link_clicked, sms_inbound
from libs.common.service import Service, Subscription
from services.router import api, campaigns_api, consumer, conversations_api, demo, forwarding, timers


def service() -> Service:
    return Service(
        name="router",
        routers=[api.router, campaigns_api.campaigns, campaigns_api.flows, conversations_api.router],
        subscriptions=[
            Subscription(sms_inbound.TOPIC, "router", consumer.handle_inbound),
            Subscription(link_clicked.TOPIC, "router", consumer.handle_click),
            Subscription(campaign_enrolled.TOPIC, "router", consumer.handle_enrolled),
        ],
        startup=[demo.ensure_demo_tenant],
        loops=[timers.timer_loop, forwarding.forwarding_loop],
    )
