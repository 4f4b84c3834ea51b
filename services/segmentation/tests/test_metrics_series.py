"""/v1/metrics/series: the window cut into whole UTC hours or days, each point computed as
/v1/metrics computes a window, so a chart of the points agrees with the window's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.segmentation import metrics
from services.segmentation.tests.helpers import at, ctx_at
from services.segmentation.tests.test_metrics import hand_built_log

COUNTS = ("delivered", "replies", "recognised_replies", "conversations_started",
          "conversations_completed", "reply_clicks", "opt_outs")


def test_buckets_cover_the_window_exactly_cut_at_whole_hours():
    start = datetime(2026, 11, 2, 11, 30, tzinfo=UTC)
    end = datetime(2026, 11, 2, 14, 10, tzinfo=UTC)
    pieces = metrics.buckets(start, end, timedelta(hours=1))
    assert [(a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in pieces] == [
        ("11:30", "12:00"), ("12:00", "13:00"), ("13:00", "14:00"), ("14:00", "14:10")]
    day = metrics.buckets(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC),
                          timedelta(days=1))
    assert [a.day for a, _ in day] == [2, 3]
    assert metrics.buckets(start, start + timedelta(minutes=5), timedelta(hours=1)) == [
        (start, start + timedelta(minutes=5))]


async def test_each_point_is_what_the_metrics_api_says_for_its_piece_and_they_add_up(suite, tenant, ctx):
    _, client = suite
    ctx_at(ctx, at(0, days=3))
    await hand_built_log(ctx)
    window = {"start": at(-30).isoformat(), "end": at(150).isoformat(), "campaign_id": "spring"}
    resp = await client.get("/v1/metrics/series", headers=tenant,
                            params={**window, "bucket": "hour", "group_by": "variant"})
    assert resp.status_code == 200, resp.text
    series = resp.json()
    assert series["bucket"] == "hour" and series["group_by"] == ["variant"]
    points = series["points"]
    assert [p["start"][11:16] for p in points] == ["11:30", "12:00", "13:00", "14:00"]
    for point in points:  # by construction: the same computation for that piece of the window
        same = await client.get("/v1/metrics", headers=tenant, params={
            "start": point["start"], "end": point["end"], "campaign_id": "spring",
            "group_by": "variant"})
        assert point["groups"] == same.json()["groups"]
    whole = (await client.get("/v1/metrics", headers=tenant, params=window)).json()["groups"][0]
    for name in COUNTS:
        assert sum(g[name] for p in points for g in p["groups"]) == whole[name], name
    assert whole["replies"] == 4 and whole["delivered"] == 7  # the log's figures (test_metrics)
    noon, one = ({g["key"]["variant"]: g for g in p["groups"]} for p in points[1:3])
    assert noon["a"]["replies"] == 2 and noon["b"]["replies"] == 1  # y1 q2 | n4
    assert one["b"]["replies"] == 1 and one["b"]["opt_outs"] == 1  # s5 at 13:00 sharp


@pytest.mark.parametrize("params, field", [
    ({"bucket": "minute"}, "bucket"),
    ({"bucket": "hour", "start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "bucket"),
    ({"start": "2026-11-03T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "start"),
])
async def test_a_bad_series_query_is_422_naming_the_field(suite, tenant, params, field):
    _, client = suite
    resp = await client.get("/v1/metrics/series", headers=tenant, params=params)
    assert resp.status_code == 422 and field in resp.text
