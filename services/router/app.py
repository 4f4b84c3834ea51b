"""Router wiring: consumes sms.inbound, link.clicked, campaign.enrolled and carrier opt-outs on
subscriber.events; fires timers, forwards
webhooks, runs imports, evidence retention and ledger pruning; serves /v1/tenants, /v1/campaigns, /v1/flows,
/v1/conversations, /v1/programs, /v1/opt-ins, /v1/consent, /v1/dnc and /v1/imports."""

from libs.common.db.models.router import ProcessedInbound
from libs.common.events import campaign_enrolled, link_clicked, sms_inbound, subscriber_events
from libs.common.ledgers import Ledger, pruning_loop
from libs.common.service import Service, Subscription
from services.router import (
    api,
    campaigns_api,
    consumer,
    conversations_api,
    demo,
    desk_events,
    forwarding,
    import_jobs,
    lifecycle_api,
    retention,
    timers,
)


def service() -> Service:
    return Service(
        name="router",
        # desk_events first: its /v1/conversations/events precedes /v1/conversations/{id}
        routers=[api.router, campaigns_api.campaigns, campaigns_api.flows, desk_events.router,
                 conversations_api.router,
                 lifecycle_api.programs, lifecycle_api.opt_ins, lifecycle_api.consent, lifecycle_api.dnc,
                 lifecycle_api.imports],
        subscriptions=[
            Subscription(sms_inbound.TOPIC, "router", consumer.handle_inbound,
                         consumer.handle_inbound_batch),
            Subscription(link_clicked.TOPIC, "router", consumer.handle_click),
            Subscription(campaign_enrolled.TOPIC, "router", consumer.handle_enrolled),
            Subscription(subscriber_events.TOPIC, "router", consumer.handle_carrier_opt_out),
        ],
        startup=[demo.ensure_demo_tenant],
        loops=[timers.timer_loop, forwarding.forwarding_loop, import_jobs.resume_loop,
               retention.retention_loop, pruning_loop(Ledger(ProcessedInbound.processed_at))],
    )
