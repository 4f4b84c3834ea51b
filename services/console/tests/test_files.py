"""The console's files as the standalone service serves them: the page, its modules and vendor
files with a strict Content-Security-Policy, revalidation or long caching, nothing outside static/,
and where the page finds the API."""

from __future__ import annotations

import httpx
import pytest

from libs.common.config import Settings
from services.console.app import standalone_app
from services.console.pages import STATIC


def client(**settings) -> httpx.AsyncClient:
    app = standalone_app(Settings(**settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


async def test_the_page_and_its_modules_are_served_under_a_policy_that_allows_only_this_origin():
    async with client() as http:
        page = await http.get("/console/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text == (STATIC / "index.html").read_text()
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "connect-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy and page.headers["x-frame-options"] == "DENY"
        module = await http.get("/console/js/main.js")
        assert module.headers["content-type"].startswith("text/javascript")
        assert module.headers["cache-control"] == "no-cache"
        again = await http.get("/console/js/main.js", headers={"If-None-Match": module.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        vendor = next((STATIC / "vendor").glob("preact-*.module.js")).name
        pinned = await http.get(f"/console/vendor/{vendor}")
        assert pinned.status_code == 200 and "immutable" in pinned.headers["cache-control"]
        bare = await http.get("/console")
        assert bare.status_code == 308 and bare.headers["location"] == "/console/"


@pytest.mark.parametrize("path", ["/console/../app.py", "/console/%2e%2e/app.py", "/console/js/nope.js",
                                  "/console/..%2Fpages.py"])
async def test_nothing_outside_the_static_files_is_served(path):
    async with client() as http:
        resp = await http.get(path)
    assert resp.status_code == 404, resp.text


async def test_the_page_learns_where_the_api_is_and_the_policy_allows_only_that_origin():
    async with client() as http:
        assert (await http.get("/console/config.json")).json() == {"api_base": ""}
    async with client(console_api_base_url="https://api.example.com/") as http:
        resp = await http.get("/console/config.json")
        assert resp.json() == {"api_base": "https://api.example.com"}
        assert "connect-src 'self' https://api.example.com;" in resp.headers["content-security-policy"]


async def test_ready_once_its_files_are_there_and_no_api_without_upstreams():
    async with client() as http:
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/v1/flows")).status_code == 404
