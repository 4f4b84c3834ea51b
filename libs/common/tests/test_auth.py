"""`/v1` credentials: any malformed key is a 401 (never a 500), and the OpenAPI document declares
the bearer key on every `/v1` operation and on nothing else."""

from __future__ import annotations

import pytest

from libs.common.config import Settings
from libs.common.service import build_app
from libs.common.testing.app import running
from libs.common.testing.profiles import profile_settings

ROUTES = ["/v1/tenants", "/v1/numbers", "/v1/subscribers", "/v1/flows", "/v1/messages/settings"]

# Header values as raw bytes, the way a client or proxy may send them (latin-1 on the wire).
MALFORMED = [
    (b"authorization", b"Bearer pk_\xe9\xe9"),
    (b"authorization", b"Bearer \xff\xfe\x00"),
    (b"authorization", "Bearer pk_☃".encode()),
    (b"authorization", b"Bearer \xe9"),
    (b"x-api-key", b"pk_\xe9\xe9"),
    (b"x-api-key", "pk_☃".encode()),
    (b"authorization", b"Bearer "),
]


@pytest.fixture(params=["admin token set", "no admin token"])
async def app_client(request, profile, tmp_path):
    from services.embedded import all_services

    overrides = {} if request.param == "admin token set" else {"admin_token": None}
    async with profile_settings(profile, tmp_path, **overrides) as settings, \
            running(all_services(), settings) as (_, client):
        yield client


@pytest.mark.parametrize("header", MALFORMED, ids=lambda h: f"{h[0].decode()}={h[1]!r}")
async def test_a_malformed_key_is_401_on_every_route(app_client, header):
    for path in ROUTES:
        resp = await app_client.get(path, headers=[header])
        assert resp.status_code == 401, (path, resp.status_code, resp.text)
        assert resp.headers["www-authenticate"] == "Bearer"


def _openapi() -> dict:
    from services.embedded import all_services

    return build_app(all_services(), Settings()).openapi()


def test_the_openapi_document_declares_the_bearer_key_on_every_v1_operation():
    doc = _openapi()
    schemes = doc["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if (s["type"], s.get("scheme")) == ("http", "bearer")]
    assert bearer, schemes
    operations = [(path, method, op) for path, item in doc["paths"].items()
                  for method, op in item.items() if path.startswith("/v1/")]
    assert len(operations) > 40
    for path, method, op in operations:
        assert {bearer[0]: []} in op.get("security", []), (method, path)
        names = {p["name"].lower() for p in op.get("parameters", [])}
        assert not names & {"authorization", "x-api-key"}, (method, path)  # schemes, not parameters


def test_routes_outside_v1_declare_no_security():
    doc = _openapi()
    others = [(path, method, op) for path, item in doc["paths"].items()
              for method, op in item.items() if not path.startswith("/v1/")]
    assert {p for p, _, _ in others} >= {"/healthz", "/webhooks/{carrier}/{tenant_id}/{kind}",
                                          "/l/{code}"}, sorted({p for p, _, _ in others})
    for path, method, op in others:
        assert "security" not in op, (method, path)


async def test_a_valid_key_works_in_either_header(suite, tenant):
    _, client = suite
    key = tenant["Authorization"].removeprefix("Bearer ")
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key},
                    {"authorization": f"bearer   {key}  "}):
        resp = await client.get("/v1/numbers", headers=headers)
        assert resp.status_code == 200 and resp.json()[0]["number"] == "+15555550000", headers
