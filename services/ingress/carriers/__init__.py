"""Carrier adapters, one folder each. Adding a carrier is one folder and one line here."""

from services.ingress.carriers import simulator
from services.ingress.carriers.base import Adapter
from services.ingress.carriers.simulator import adapter as _simulator

ADAPTERS: dict[str, Adapter] = {
    _simulator.NAME: _simulator.adapter,
}

__all__ = ["ADAPTERS", "Adapter", "simulator"]
