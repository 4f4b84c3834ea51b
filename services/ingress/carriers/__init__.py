"""Carrier adapters, one folder each. Adding a carrier is one folder and one line here."""

from services.ingress.carriers.bandwidth import adapter as bandwidth
from services.ingress.carriers.base import Adapter
from services.ingress.carriers.generic import adapter as generic
from services.ingress.carriers.plivo import adapter as plivo
from services.ingress.carriers.simulator import adapter as simulator
from services.ingress.carriers.telnyx import adapter as telnyx
from services.ingress.carriers.twilio import adapter as twilio
from services.ingress.carriers.vonage import adapter as vonage

ADAPTERS: dict[str, Adapter] = {
    twilio.NAME: twilio.adapter,
    telnyx.NAME: telnyx.adapter,
    vonage.NAME: vonage.adapter,
    plivo.NAME: plivo.adapter,
    bandwidth.NAME: bandwidth.adapter,
    generic.NAME: generic.adapter,
    simulator.NAME: simulator.adapter,
}

__all__ = ["ADAPTERS", "Adapter"]
