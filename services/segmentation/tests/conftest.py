"""Fixtures for segmentation tests: the suite's context, and fast periodic loops."""

from __future__ import annotations

import pytest

from services.segmentation import jobs


@pytest.fixture
def fast_loops(monkeypatch):
    """Loops tick every 50 ms; request it before `suite` so the first sleep is short too."""
    for name in ("DECAY_EVERY_S", "PACE_EVERY_S", "PROMOTE_EVERY_S"):
        monkeypatch.setattr(jobs, name, 0.05)


@pytest.fixture
def ctx(suite):
    app, _ = suite
    return app.state.ctx
