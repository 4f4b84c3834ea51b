"""The demo tenant (PARLEY_DEMO): its API key is in PARLEY_DATA_DIR/demo-api-key and works, also
when that file came from an earlier run on another database (the embedded suite, then the
services run apart on PostgreSQL, sharing one data directory)."""

from __future__ import annotations

import pytest

from libs.common.testing.app import running
from libs.common.testing.profiles import profile_settings
from services.router.app import service


@pytest.mark.parametrize("earlier", [None, "pk_demo_from_an_earlier_run"], ids=["first run", "kept key"])
async def test_the_demo_key_in_the_data_directory_works(profile, tmp_path, earlier):
    key_file = tmp_path / "demo-api-key"
    if earlier:
        key_file.write_text(earlier + "\n")
    async with profile_settings(profile, tmp_path, demo=True) as settings:
        for _ in range(2):  # and again after a restart
            async with running([service()], settings) as (_, client):
                key = key_file.read_text().strip()
                resp = await client.get("/v1/tenants/demo", headers={"Authorization": f"Bearer {key}"})
                assert resp.status_code == 200, resp.text
                assert resp.json()["id"] == "demo"
    assert key == (earlier or key)
    assert key_file.stat().st_mode & 0o777 == 0o600
