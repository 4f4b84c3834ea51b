"""Segmentation HTTP, one router per owned prefix; every route is scoped to the caller's tenant."""

from services.segmentation.api import (
    broadcasts,
    conversions,
    experiments,
    insights,
    metrics,
    segments,
    subscribers,
)

ROUTERS = (subscribers.router, segments.router, broadcasts.router, metrics.router,
           conversions.router, experiments.router, insights.router)
