"""Ingress wiring. It consumes no topic: its input is HTTP, its output `sms.inbound`/`sms.status`."""

from libs.common.service import Service
from services.ingress import api


def service() -> Service:
    return Service(name="ingress", routers=[api.router])
