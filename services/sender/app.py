"""Sender wiring: consumes sms.outbound and sms.status, sends deferred messages at their time,
prunes receipts that never matched a send, posts the simulated carrier's receipts; serves
/v1/numbers, /v1/messages and /simulator."""

from libs.common.db.models.sender import PendingReceipt
from libs.common.events import sms_outbound, sms_status
from libs.common.ledgers import Ledger, pruning_loop
from libs.common.service import Ctx, Service, Subscription
from services.sender import api, consumer, deferred, demo, quiet_hours, state_rules
from services.sender.carriers.simulator import receipts as simulated_receipts


async def check_zone_data(ctx: Ctx) -> None:
    quiet_hours.require_zone_data()


async def check_state_rules(ctx: Ctx) -> None:
    state_rules.require_state_rules()


def service() -> Service:
    return Service(
        name="sender",
        routers=[api.numbers, api.messages, api.handset],
        subscriptions=[Subscription(sms_outbound.TOPIC, "sender", consumer.handle_outbound,
                                    consumer.handle_outbound_batch),
                       Subscription(sms_status.TOPIC, "sender", consumer.handle_status,
                                    consumer.handle_statuses)],
        startup=[check_zone_data, check_state_rules, demo.ensure_demo_number],
        loops=[deferred.deferred_loop, pruning_loop(Ledger(PendingReceipt.at)),
               simulated_receipts.receipt_loop],
    )
