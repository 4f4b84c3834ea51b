"""Helpers the benchmarks share: percentiles and a consistent way to print figures."""

from __future__ import annotations

import os
import statistics


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def report(name: str, **figures: object) -> None:
    parts = []
    for key, value in figures.items():
        parts.append(f"{key}={value:,.2f}" if isinstance(value, float) else f"{key}={value}")
    print(f"{name:<28} " + "  ".join(parts), flush=True)


def ms(seconds: float) -> float:
    return seconds * 1000


def kafka_bootstrap() -> str | None:
    return os.environ.get("PARLEY_TEST_KAFKA_BOOTSTRAP")


def database_url() -> str | None:
    return os.environ.get("PARLEY_TEST_DATABASE_URL")


__all__ = ["database_url", "kafka_bootstrap", "ms", "percentile", "report", "statistics"]
