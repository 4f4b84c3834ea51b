"""Credentials are read once per few seconds, and newly set ones work at once."""

from __future__ import annotations

from libs.common.db.models.tenancy import CarrierCredential
from libs.common.secrets import CredentialBox
from services.ingress.credentials import CredentialCache
from services.ingress.tests.test_delivery import post


async def set_credentials(ctx, carrier: str, values: dict[str, str]) -> None:
    box = CredentialBox(ctx.settings.secret_key.get_secret_value())
    async with ctx.sessions() as session, session.begin():
        row = await session.get(CarrierCredential, ("acme", carrier))
        row.encrypted = box.seal(values)


async def test_credentials_are_kept_for_the_ttl_and_read_again_after(ingress):
    app, _ = ingress
    ctx = app.state.ctx
    now = [0.0]
    cache = CredentialCache(ttl_s=10, clock=lambda: now[0])
    assert await cache.get(ctx, "acme", "plivo") == (True, {"auth_token": "MyPlivoAuthToken"}, False)
    await set_credentials(ctx, "plivo", {"auth_token": "rotated"})
    assert await cache.get(ctx, "acme", "plivo") == (True, {"auth_token": "MyPlivoAuthToken"}, True)
    now[0] = 10.5
    assert await cache.get(ctx, "acme", "plivo") == (True, {"auth_token": "rotated"}, False)
    assert await cache.get(ctx, "nobody", "plivo") == (False, None, False)


async def test_a_request_signed_with_just_replaced_credentials_is_accepted(ingress):
    app, client = ingress
    assert (await post(client, "plivo", "inbound", "inbound.txt")).status_code == 200  # now kept
    await set_credentials(app.state.ctx, "plivo", {"auth_token": "rotated"})
    resp = await post(client, "plivo", "inbound", "inbound_header_example.txt",
                      creds={"auth_token": "rotated"})
    assert resp.status_code == 200, resp.text
