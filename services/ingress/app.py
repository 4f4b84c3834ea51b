"""Ingress wiring. It consumes no topic: its input is HTTP (carrier webhooks, link clicks), its
output `sms.inbound`, `sms.status` and `link.clicked`. Its loops publish concatenated messages
whose last part never came, and prune its dedupe ledger."""

from libs.common.db.models.ingress import InboundDedup
from libs.common.ledgers import Ledger, pruning_loop
from libs.common.service import Service
from services.ingress import api, concat


def service() -> Service:
    return Service(name="ingress", routers=[api.webhooks, api.links], loops=[concat.sweep_loop,
                   pruning_loop(Ledger(InboundDedup.received_at))])
