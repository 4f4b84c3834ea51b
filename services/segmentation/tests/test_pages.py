"""Paged lists (subscribers, segment members) walked by their cursors: every row once, however
the cursor is pasted; a malformed cursor is a 422 naming `after`."""

from __future__ import annotations

import pytest

from libs.common.testing.app import walk_pages

PHONES = [f"+1555555090{i}" for i in range(7)]


@pytest.fixture
async def vips(suite, tenant):
    _, client = suite
    for phone in PHONES:
        resp = await client.post(f"/v1/subscribers/{phone}/labels", headers=tenant,
                                 json={"label": "vip"})
        assert resp.status_code == 201, resp.text
    resp = await client.post("/v1/segments", headers=tenant,
                             json={"id": "vips", "name": "VIPs", "rule": {"label": "vip"}})
    assert resp.status_code == 201, resp.text
    return client


@pytest.mark.parametrize("path", ["/v1/subscribers", "/v1/segments/vips/subscribers"])
async def test_walking_the_pages_visits_every_row_once(vips, tenant, path):
    for limit in (1, 2, 3, 7):
        items = await walk_pages(vips, path, tenant, limit=limit)
        assert [item["phone"] for item in items] == PHONES, limit


async def test_a_raw_phone_still_works_as_after_encoded_or_not(vips, tenant):
    for after in ("%2B15555550904", "+15555550904"):
        resp = await vips.get(f"/v1/subscribers?after={after}", headers=tenant)
        assert [s["phone"] for s in resp.json()["items"]] == PHONES[5:], after


@pytest.mark.parametrize("after", ["garbage!", "eyJwaG9uZSI6", "eyJhdCI6MX0"])
async def test_a_malformed_cursor_is_a_422_naming_after(vips, tenant, after):
    for path in ("/v1/subscribers", "/v1/segments/vips/subscribers"):
        resp = await vips.get(path, headers=tenant, params={"after": after})
        assert resp.status_code == 422, resp.text
        assert resp.json()["detail"][0]["loc"] == ["query", "after"]
