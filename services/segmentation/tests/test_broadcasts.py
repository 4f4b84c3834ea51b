"""Broadcasts: the audience is resolved at launch without opted-out subscribers, enrollments are
published at the broadcast's pace, pause stops them, resume continues without duplicates, a
restart picks up from the database, and non-responders can be grouped and left out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from libs.common.events import campaign_enrolled
from libs.common.testing.app import eventually, running, walk_pages
from services.embedded import all_services
from services.segmentation import broadcasts, jobs
from services.segmentation.tests.helpers import T0, ctx_at, fact, feed, reply

VIPS = [f"+155555504{i:02d}" for i in range(10)]
OPTED_OUT = ["+15555550480", "+15555550481"]
NOT_VIP = "+15555550490"


def test_pace_earns_one_enrollment_per_interval_and_never_bursts():
    t = T0
    assert broadcasts.allowance(60, 0.0, t, t + timedelta(seconds=3)) == broadcasts.Allowance(3, 0.0)
    assert broadcasts.allowance(60, 0.5, t, t + timedelta(seconds=1.7)).count == 2
    assert broadcasts.allowance(60, 0.0, t, t + timedelta(hours=5)).count == 60  # a minute's worth
    assert broadcasts.allowance(10**6, 0.0, t, t + timedelta(seconds=30)).count == broadcasts.MAX_BATCH
    assert broadcasts.allowance(60, 0.0, t, t - timedelta(seconds=9)).count == 0  # clock went back


@pytest.mark.parametrize("state, action, result", [
    ("running", "pause", "paused"), ("paused", "resume", "running"), ("running", "cancel", "cancelled"),
    ("paused", "cancel", "cancelled"), ("paused", "pause", None), ("running", "resume", None),
    ("completed", "cancel", None), ("cancelled", "resume", None),
])
def test_launch_state_machine(state, action, result):
    if result is None:
        with pytest.raises(broadcasts.TransitionError):
            broadcasts.transition(state, action)
    else:
        assert broadcasts.transition(state, action) == result


async def observe(ctx) -> list:
    seen: list = []

    async def record(event):
        seen.append(event)

    await ctx.bus.consume(campaign_enrolled.TOPIC, "test-observer", record)
    return seen


async def audience(ctx, client, tenant):
    events = [fact(p, T0 - timedelta(days=1), "label_applied", label="vip") for p in VIPS + OPTED_OUT]
    events += [fact(p, T0 - timedelta(days=1), "consent_changed", consent="opted_in") for p in VIPS]
    events += [fact(p, T0 - timedelta(hours=1), "consent_changed", consent="opted_out")
               for p in OPTED_OUT]
    events.append(fact(NOT_VIP, T0, "consent_changed", consent="opted_in"))
    await feed(ctx, *events)
    resp = await client.post("/v1/segments", headers=tenant,
                             json={"id": "vips", "name": "VIPs", "rule": {"label": "vip"}})
    assert resp.status_code == 201, resp.text


async def broadcast(client, tenant, broadcast_id="spring-vip"):
    resp = await client.get(f"/v1/broadcasts/{broadcast_id}", headers=tenant)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def pace(ctx, seconds):
    now = T0 + timedelta(seconds=seconds)
    ctx_at(ctx, now)  # the service's own pacing loop then sees the same time
    await jobs.pace_once(ctx, now)


async def test_launch_skips_opted_out_pause_stops_and_resume_continues_without_duplicates(
        suite, tenant, ctx):
    _, client = suite
    seen = await observe(ctx)
    await audience(ctx, client, tenant)
    ctx_at(ctx, T0)
    resp = await client.post("/v1/broadcasts", headers=tenant, json={
        "id": "spring-vip", "segment_id": "vips", "flow_id": "spring", "rate_per_minute": 60})
    assert resp.status_code == 201, resp.text
    assert resp.json()["audience"] == 10 and resp.json()["pending"] == 10  # opted-out left out

    await pace(ctx, 3)
    assert (await broadcast(client, tenant))["enrolled"] == 3
    assert (await client.post("/v1/broadcasts/spring-vip/pause", headers=tenant)).json()["state"] == \
        "paused"
    await pace(ctx, 100)
    assert (await broadcast(client, tenant))["enrolled"] == 3  # paused: nothing more

    # One of the pending VIPs opts out while the broadcast is paused: skipped, not enrolled.
    await feed(ctx, fact(VIPS[-1], T0 + timedelta(seconds=150), "consent_changed",
                         consent="opted_out"))
    ctx_at(ctx, T0 + timedelta(seconds=200))
    assert (await client.post("/v1/broadcasts/spring-vip/resume", headers=tenant)).status_code == 200
    await pace(ctx, 204)  # paused time earned nothing: 4 seconds, 4 more
    assert (await broadcast(client, tenant))["enrolled"] == 7
    await pace(ctx, 400)
    done = await broadcast(client, tenant)
    assert (done["enrolled"], done["skipped"], done["pending"], done["state"]) == (9, 1, 0,
                                                                                   "completed")

    got = await eventually(lambda: _at_least(seen, 9))
    ids = [e.enrollment_id for e in got]
    assert len(ids) == len(set(ids)) == 9
    assert {e.phone for e in got} == set(VIPS[:-1])
    assert f"spring-vip:{VIPS[0]}" in ids and {e.flow_id for e in got} == {"spring"}
    assert (await client.post("/v1/broadcasts/spring-vip/resume", headers=tenant)).status_code == 409


async def _at_least(seen, n):
    return list(seen) if len(seen) >= n else None


async def test_a_restart_resumes_pacing_from_the_database_without_enrolling_anyone_twice(
        settings, profile):
    async with running(all_services(), settings) as (app, client):
        ctx = app.state.ctx
        headers = await _tenant(client)
        await audience(ctx, client, headers)
        ctx_at(ctx, T0)
        await client.post("/v1/broadcasts", headers=headers, json={
            "id": "spring-vip", "segment_id": "vips", "body": "Hi!", "rate_per_minute": 60})
        await pace(ctx, 4)
        first = await observe(ctx)
        await eventually(lambda: _at_least(first, 4))
    async with running(all_services(), settings) as (app, client):
        ctx = app.state.ctx
        headers = await _tenant(client, existing=headers)
        second = await observe(ctx)
        await pace(ctx, 60)
        done = await broadcast(client, headers)
        assert (done["enrolled"], done["state"]) == (10, "completed")
        await eventually(lambda: _at_least(second, 6))  # the group resumes after the first 4
    ids = [e.enrollment_id for e in [*first, *second]]
    assert len(ids) == len(set(ids)) == 10


async def _tenant(client, existing=None):
    if existing:
        return existing
    resp = await client.post("/v1/tenants", headers={"Authorization": "Bearer test-admin-token"},
                             json={"id": "acme", "name": "Acme"})
    return {"Authorization": f"Bearer {resp.json()['api_key']}"}


async def test_the_pacing_loop_enrolls_on_its_own(fast_loops, suite, tenant, ctx):
    _, client = suite
    seen = await observe(ctx)
    await audience(ctx, client, tenant)
    resp = await client.post("/v1/broadcasts", headers=tenant, json={
        "segment_id": "vips", "body": "Flash sale: reply DEAL", "rate_per_minute": 100_000})
    assert resp.status_code == 201
    got = await eventually(lambda: _at_least(seen, 10))
    assert {e.phone for e in got} == set(VIPS) and got[0].body == "Flash sale: reply DEAL"


async def test_non_responders_are_grouped_and_left_out_of_the_next_segment(suite, tenant, ctx):
    _, client = suite
    await audience(ctx, client, tenant)
    ctx_at(ctx, T0)
    await client.post("/v1/broadcasts", headers=tenant, json={
        "id": "spring-vip", "segment_id": "vips", "flow_id": "spring", "rate_per_minute": 600,
        "reply_window_hours": 48})
    await pace(ctx, 60)
    # Three reply inside the window, one only after it closed.
    await feed(ctx, *(reply(p, T0 + timedelta(hours=5)) for p in VIPS[:3]),
               reply(VIPS[3], T0 + timedelta(hours=49)))
    ctx_at(ctx, T0 + timedelta(hours=47))
    early = await client.get("/v1/broadcasts/spring-vip/non-responders", headers=tenant)
    assert early.json()["items"] == []  # nobody's window has closed yet
    ctx_at(ctx, T0 + timedelta(hours=50))
    late = await client.get("/v1/broadcasts/spring-vip/non-responders", headers=tenant)
    assert late.json()["items"] == VIPS[3:]
    assert await walk_pages(client, "/v1/broadcasts/spring-vip/non-responders", tenant,
                            limit=2) == VIPS[3:]
    resp = await client.post("/v1/broadcasts/spring-vip/suppress-non-responders", headers=tenant)
    assert resp.json() == {"label": "no-reply:spring-vip", "suppressed": 7}
    again = await client.post("/v1/broadcasts/spring-vip/suppress-non-responders", headers=tenant)
    assert again.json()["suppressed"] == 0
    resp = await client.post("/v1/segments/count", headers=tenant, json={"rule": {"all": [
        {"label": "vip"}, {"not": {"label": "no-reply:spring-vip"}}]}})
    assert resp.json() == {"count": 5}  # 3 responders + the 2 opted-out VIPs never enrolled


@pytest.mark.parametrize("body, status", [
    ({"segment_id": "vips"}, 422),                                     # neither flow nor body
    ({"segment_id": "vips", "flow_id": "f", "body": "x"}, 422),        # both
    ({"segment_id": "nope", "flow_id": "f"}, 422),                     # unknown segment
    ({"segment_id": "vips", "flow_id": "f", "rate_per_minute": 0}, 422),
])
async def test_bad_launches_are_refused(suite, tenant, body, status):
    _, client = suite
    await client.post("/v1/segments", headers=tenant,
                      json={"id": "vips", "name": "VIPs", "rule": {"label": "vip"}})
    assert (await client.post("/v1/broadcasts", headers=tenant, json=body)).status_code == status
