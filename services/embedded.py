"""The embedded suite: all four services and the operator console in one process, on one port.

This module is the composition root, the one place that knows every service; the services still
talk only through the bus, exactly as they do when deployed apart.
"""

from __future__ import annotations

from libs.common.config import Settings
from libs.common.service import Service
from services.console.app import service as console
from services.ingress.app import service as ingress
from services.router.app import service as router
from services.segmentation.app import service as segmentation
from services.sender.app import service as sender


def all_services() -> list[Service]:
    return [router(), ingress(), sender(), segmentation(), console()]


def embedded_settings(**overrides) -> Settings:
    """Settings for `parley run`: environment first, the demo on unless told otherwise."""
    settings = Settings(**overrides)
    if "PARLEY_DEMO" not in __import__("os").environ and "demo" not in overrides:
        settings.demo = True
    return settings
