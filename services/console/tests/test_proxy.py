"""The console's pass-through of /v1 (Compose, where no Ingress routes it): a request reaches the
service owning its prefix as sent, the answer comes back as given, and nothing else is passed."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from libs.common.config import Settings
from libs.common.testing.http import free_port, local_server
from services.console.app import standalone_app
from services.console.proxy import BadUpstreams, parse_upstreams, upstream_for


def echo_app(name: str) -> FastAPI:
    app = FastAPI()

    @app.api_route("/v1/{rest:path}", methods=["GET", "POST", "PATCH"])
    async def echo(rest: str, request: Request) -> JSONResponse:
        return JSONResponse({"by": name, "method": request.method, "path": request.url.path,
                             "query": str(request.url.query), "auth": request.headers.get("authorization"),
                             "host": request.headers.get("host"), "body": (await request.body()).decode()},
                            status_code=201 if request.method == "POST" else 200,
                            headers={"X-Upstream": name})
    return app


def test_upstreams_are_parsed_and_bad_ones_named():
    assert parse_upstreams(" /v1/flows=http://router:8080/, /v1/metrics=http://seg:8080 ,") == {
        "/v1/flows": "http://router:8080", "/v1/metrics": "http://seg:8080"}
    assert parse_upstreams("") == {}
    for bad in ("/v1/flows", "/flows=http://router:8080", "/v1/flows=router:8080"):
        with pytest.raises(BadUpstreams, match="PARLEY_CONSOLE_UPSTREAMS"):
            parse_upstreams(bad)


def test_the_longest_listed_prefix_owns_a_path():
    ups = {"/v1/flows": "http://a", "/v1/flows/special": "http://b"}
    assert upstream_for("/v1/flows", ups) == "http://a"
    assert upstream_for("/v1/flows/welcome", ups) == "http://a"
    assert upstream_for("/v1/flows/special/x", ups) == "http://b"
    assert upstream_for("/v1/flowsy", ups) is None


async def test_requests_reach_the_owner_as_sent_and_unlisted_or_silent_owners_are_told_apart():
    async with local_server(echo_app("router")) as router, local_server(echo_app("seg")) as seg:
        silent = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        app = standalone_app(Settings(console_upstreams=(
            f"/v1/flows={router},/v1/metrics={seg},/v1/messages={silent}")))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://console.test") as http:
            got = await http.post("/v1/flows/welcome/activate?x=1", content=b'{"a": 1}',
                                  headers={"Authorization": "Bearer k1", "Content-Type": "application/json"})
            assert got.status_code == 201 and got.headers["x-upstream"] == "router"
            body = got.json()
            assert (body["method"], body["path"], body["query"], body["auth"], body["body"]) == (
                "POST", "/v1/flows/welcome/activate", "x=1", "Bearer k1", '{"a": 1}')
            assert body["host"] == router.removeprefix("http://")  # its own, not the console's
            assert (await http.get("/v1/metrics")).json()["by"] == "seg"
            unlisted = await http.get("/v1/tenants/demo")
            assert unlisted.status_code == 404 and "/v1/tenants/demo" in unlisted.json()["detail"]
            down = await http.get("/v1/messages/preview")
            assert down.status_code == 502 and silent in down.json()["detail"]
