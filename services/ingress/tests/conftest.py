"""Ingress alone on the test's profile, with a tenant whose credentials for every carrier are the
harness's, and a probe that sees what ingress published."""

from __future__ import annotations

import pytest

from libs.common.testing.app import running
from services.ingress.app import service
from services.ingress.tests.support import Probe, add_tenant


@pytest.fixture
async def ingress(settings):
    """(app, client) for the ingress service alone, with tenant `acme` set up."""
    async with running([service()], settings) as (app, client):
        await add_tenant(app.state.ctx)
        yield app, client


@pytest.fixture
async def probe(ingress) -> Probe:
    app, client = ingress
    return await Probe.attach(app, client)
