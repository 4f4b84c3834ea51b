"""Ingress wiring. It consumes no topic: its input is HTTP (carrier webhooks, link clicks), its
output `sms.inbound`, `sms.status` and `link.clicked`. Its one loop publishes concatenated
messages whose last part never came."""

from libs.common.service import Service
from services.ingress import api, concat


def service() -> Service:
    return Service(name="ingress", routers=[api.webhooks, api.links], loops=[concat.sweep_loop])
