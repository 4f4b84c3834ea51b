"""Fixtures every test may use. `profile` runs a test once per selected profile."""

from __future__ import annotations

import asyncio
import gc

import pytest

from libs.common.testing.profiles import profile_settings, selected_profiles


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Once every test has run, nothing left needs collecting: freeze what the run built up (the
    whole suite's heap) so the collections pytest and the interpreter make on the way out skip it.
    Without this, those passes over the heap of a full run kept the process busy for minutes after
    the summary."""
    gc.freeze()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "profile" in metafunc.fixturenames:
        metafunc.parametrize("profile", selected_profiles())


@pytest.fixture
async def settings(profile, tmp_path, request):
    """One test's settings on its profile. Its PostgreSQL database starts migrated (copied from a
    template migrated once per run) unless the test is marked `empty_database`."""
    empty = request.node.get_closest_marker("empty_database") is not None
    async with profile_settings(profile, tmp_path, migrated=not empty) as s:
        yield s


def _without_loop(monkeypatch, module, name: str) -> None:
    """Replace a service loop with one that only waits, for the services a test starts next."""
    async def no_loop(ctx):
        await asyncio.Event().wait()

    monkeypatch.setattr(module, name, no_loop)


@pytest.fixture
def timers_by_hand(monkeypatch):
    """No timer loop in the routers a test starts: it would race the timers the test fires by
    hand (`timers.fire_due` after moving its clock), claiming one first, and on its first pass,
    before the test sets its clock, it reads the real time, when START's timers are long due."""
    from services.router import timers

    _without_loop(monkeypatch, timers, "timer_loop")


@pytest.fixture
def deferred_by_hand(monkeypatch):
    """No deferred-send loop in the senders a test starts: it would race the `run_due` calls the
    test makes after moving its clock, taking a message the test is about to send."""
    from services.sender import deferred

    _without_loop(monkeypatch, deferred, "deferred_loop")


@pytest.fixture
async def suite(settings, request):
    """All four services in one process on the test's profile: (app, client). A test on the
    playbooks' hand-moved clock fires its timers itself, so its suite has no timer loop."""
    from libs.common.testing.app import running
    from services.embedded import all_services

    if "playbooks" in request.fixturenames:
        request.getfixturevalue("timers_by_hand")

    async with running(all_services(), settings) as (app, client):
        yield app, client


@pytest.fixture
async def own_broker(profile, tmp_path):
    """A Kafka broker of the test's own (scripts/kafka.sh in a run directory under tmp_path, not
    started yet), to stop, kill and restart without touching the shared test broker. Production
    profile only; stopped and deleted afterwards."""
    from libs.common.testing.servers import ScriptBroker

    if profile != "production":
        pytest.skip("starts a Kafka broker of its own (production profile)")
    broker = ScriptBroker(tmp_path / "run")
    try:
        yield broker
    finally:
        await broker.stop()


ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def admin_headers():
    return dict(ADMIN)


@pytest.fixture
async def playbooks(suite, tenant):
    """Tenant `acme` with the shipped playbooks loaded and a hand-moved clock at START:
    (ctx, client, headers). The scenario tests (flows, lifecycle, desk) start from here."""
    from libs.common.testing.phone import START, Clock
    from services.router.demo import load_playbooks

    app, client = suite
    ctx = app.state.ctx
    ctx.clock = Clock(START)
    async with ctx.sessions() as session, session.begin():
        await load_playbooks(session, "acme", ctx.clock())  # default program: JOIN, welcome flow
    return ctx, client, tenant


@pytest.fixture
async def tenant(suite):
    """A tenant `acme` with a simulated sending number; returns its auth headers."""
    _, client = suite
    resp = await client.post("/v1/tenants", headers=ADMIN,
                             json={"id": "acme", "name": "Acme", "brand": "Acme Shoes"})
    assert resp.status_code == 201, resp.text
    headers = {"Authorization": f"Bearer {resp.json()['api_key']}"}
    resp = await client.post("/v1/numbers", headers=headers,
                             json={"number": "+15555550000", "carrier": "simulator",
                                   "is_default": True})
    assert resp.status_code == 201, resp.text
    return headers
