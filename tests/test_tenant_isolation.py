"""Tenancy over the API: the admin token creates tenants, each key sees only its own tenant's
data on every service, and bad credentials are 401, never a 500."""

from __future__ import annotations

from contextlib import nullcontext

import pytest

ADMIN = {"Authorization": "Bearer test-admin-token"}


async def make_tenant(client, tenant_id):
    resp = await client.post("/v1/tenants", headers=ADMIN, json={"id": tenant_id, "name": tenant_id})
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['api_key']}"}


async def test_only_the_admin_token_creates_tenants(suite):
    _, client = suite
    a = await make_tenant(client, "alpha")
    resp = await client.post("/v1/tenants", headers=a, json={"id": "evil", "name": "x"})
    assert resp.status_code == 403
    resp = await client.post("/v1/tenants", headers=ADMIN, json={"id": "alpha", "name": "again"})
    assert resp.status_code == 409


async def test_a_key_reads_its_own_tenant_and_never_another(suite):
    _, client = suite
    a = await make_tenant(client, "alpha")
    await make_tenant(client, "beta")
    assert (await client.get("/v1/tenants/alpha", headers=a)).status_code == 200
    assert (await client.get("/v1/tenants/beta", headers=a)).status_code == 404
    assert [t["id"] for t in (await client.get("/v1/tenants", headers=a)).json()] == ["alpha"]
    assert {t["id"] for t in (await client.get("/v1/tenants", headers=ADMIN)).json()} == {
        "alpha", "beta"}
    resp = await client.put("/v1/tenants/beta/credentials/twilio", headers=a,
                            json={"values": {"auth_token": "x"}})
    assert resp.status_code == 404
    assert (await client.post("/v1/tenants/beta/api-keys", headers=a)).status_code == 404


async def test_numbers_messages_and_subscribers_are_scoped_to_the_callers_tenant(suite):
    _, client = suite
    a = await make_tenant(client, "alpha")
    b = await make_tenant(client, "beta")
    resp = await client.post("/v1/numbers", headers=a,
                             json={"number": "+15555550001", "carrier": "simulator"})
    assert resp.status_code == 201
    assert [n["number"] for n in (await client.get("/v1/numbers", headers=a)).json()] == [
        "+15555550001"]
    assert (await client.get("/v1/numbers", headers=b)).json() == []
    assert (await client.get("/v1/subscribers", headers=b)).json()["total"] == 0


async def test_credentials_are_stored_encrypted_and_never_returned(suite):
    app, client = suite
    a = await make_tenant(client, "alpha")
    resp = await client.put("/v1/tenants/alpha/credentials/twilio", headers=a,
                            json={"values": {"account_sid": "AC123", "auth_token": "s3cret-token"}})
    assert resp.status_code == 200
    assert resp.json()["fields"] == ["account_sid", "auth_token"]
    assert "s3cret" not in resp.text
    listed = (await client.get("/v1/tenants/alpha/credentials", headers=a)).text
    assert "s3cret" not in listed and "auth_token" in listed

    from sqlalchemy import select

    from libs.common.db.models.tenancy import CarrierCredential

    async with app.state.ctx.sessions() as session:
        blob = await session.scalar(select(CarrierCredential.encrypted))
    assert b"s3cret-token" not in blob


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer pk_not-a-real-key"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"X-API-Key": "wrong"},
], ids=["missing", "unknown key", "wrong scheme", "wrong x-api-key"])
async def test_bad_or_missing_keys_are_401(suite, headers):
    _, client = suite
    for path in ("/v1/tenants", "/v1/numbers", "/v1/subscribers"):
        resp = await client.get(path, headers=headers)
        assert resp.status_code == 401, (path, resp.text)


async def test_the_admin_token_is_not_a_tenant_key(suite):
    _, client = suite
    assert (await client.get("/v1/numbers", headers=ADMIN)).status_code == 403


@pytest.mark.parametrize("body, field", [
    ({"name": "no id"}, "id"),
    ({"id": "Bad Id!", "name": "x"}, "id"),
    ({"id": "ok-id"}, "name"),
    ({"id": "ok-id", "name": "x", "surprise": 1}, "surprise"),
])
async def test_malformed_tenant_requests_are_422_naming_the_field(suite, body, field):
    _, client = suite
    resp = await client.post("/v1/tenants", headers=ADMIN, json=body)
    assert resp.status_code == 422
    assert field in resp.text


async def test_malformed_json_is_422_not_500(suite):
    _, client = suite
    resp = await client.post("/v1/tenants", headers={**ADMIN, "content-type": "application/json"},
                             content=b"{nope")
    assert resp.status_code == 422


async def test_a_number_belongs_to_one_tenant_and_another_cannot_register_or_send_from_it(suite):
    _, client = suite
    a = await make_tenant(client, "alpha")
    b = await make_tenant(client, "beta")
    number = {"number": "+15555550000", "carrier": "simulator"}
    assert (await client.post("/v1/numbers", headers=a, json=number)).status_code == 201
    for spelling in ("+15555550000", "+1 (555) 555-0000"):
        resp = await client.post("/v1/numbers", headers=b, json={**number, "number": spelling})
        assert resp.status_code == 409, resp.text
        assert resp.json()["detail"] == "number: +15555550000 is registered to another tenant"
    resp = await client.post("/v1/numbers", headers=a, json=number)
    assert resp.status_code == 409 and resp.json()["detail"] == "number: +15555550000 is already registered"
    assert (await client.get("/v1/numbers", headers=b)).json() == []
    resp = await client.post("/v1/messages", headers=b, json={"to": "+12125550123", "body": "hi",
                                                               "from": "+15555550000"})
    assert resp.status_code == 422 and "not a registered sending number" in resp.json()["detail"]
    # once its owner lets it go, the number may be registered again
    assert (await client.delete("/v1/numbers/+15555550000", headers=a)).status_code == 204
    assert (await client.post("/v1/numbers", headers=b, json=number)).status_code == 201


async def test_the_database_refuses_a_second_owner_of_a_number(suite):
    from sqlalchemy.exc import IntegrityError

    from libs.common.db.models.sender import SendingNumber

    app, client = suite
    ctx = app.state.ctx
    await make_tenant(client, "alpha")
    await make_tenant(client, "beta")
    for tenant_id in ("alpha", "beta"):  # two racing requests both past the API's check
        with pytest.raises(IntegrityError) if tenant_id == "beta" else nullcontext():
            async with ctx.sessions() as session, session.begin():
                session.add(SendingNumber(tenant_id=tenant_id, number="+15555550000",
                                          carrier="simulator", number_type="long_code",
                                          is_default=False, created_at=ctx.clock()))
