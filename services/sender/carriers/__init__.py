"""Carrier clients, one folder each, chosen by the sending number's registration.

`CLIENTS` maps a carrier name to its pure client module (`build_request`, `read_response`); the
simulated carrier has no HTTP API and is handled apart (`simulator/client.py`).
"""

from __future__ import annotations

from services.sender.carriers.bandwidth import client as bandwidth
from services.sender.carriers.base import Client
from services.sender.carriers.plivo import client as plivo
from services.sender.carriers.telnyx import client as telnyx
from services.sender.carriers.twilio import client as twilio
from services.sender.carriers.vonage import client as vonage

CLIENTS: dict[str, Client] = {
    "twilio": twilio,  # type: ignore[dict-item]
    "telnyx": telnyx,  # type: ignore[dict-item]
    "vonage": vonage,  # type: ignore[dict-item]
    "plivo": plivo,  # type: ignore[dict-item]
    "bandwidth": bandwidth,  # type: ignore[dict-item]
}
SIMULATOR = "simulator"
CARRIERS = (*CLIENTS, SIMULATOR)

__all__ = ["CARRIERS", "CLIENTS", "SIMULATOR"]
