"""Segmentation wiring: consumes every fact topic, serves its seven /v1 prefixes, runs the decay,
pacing and promotion loops, and prunes its ledgers."""

from libs.common.db.models.segmentation import DeliveryReceipt, ProcessedEvent, UnmatchedReply
from libs.common.events import link_clicked, sms_inbound, sms_sent, sms_status, subscriber_events
from libs.common.ledgers import Ledger, pruning_loop
from libs.common.service import Service, Subscription
from services.segmentation import consumer, jobs
from services.segmentation.api import ROUTERS

TOPICS = (sms_inbound.TOPIC, sms_sent.TOPIC, sms_status.TOPIC, link_clicked.TOPIC,
          subscriber_events.TOPIC)


def service() -> Service:
    return Service(
        name="segmentation",
        routers=list(ROUTERS),
        subscriptions=[Subscription(t, "segmentation", consumer.handle_event, consumer.handle_events)
                       for t in TOPICS],
        loops=[*jobs.LOOPS,
               pruning_loop(Ledger(ProcessedEvent.processed_at), Ledger(DeliveryReceipt.at),
                            Ledger(UnmatchedReply.at))],
    )
