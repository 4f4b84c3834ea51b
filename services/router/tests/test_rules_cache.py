"""The tenant rules cache: an API write that commits while another task is building the tenant's
rules from the old rows must not be undone by that build (it would serve stale texts for a TTL)."""

from __future__ import annotations

from services.router import rules_cache, store


async def test_a_build_that_overlaps_an_invalidation_is_not_kept(suite, tenant, monkeypatch):
    app, _client = suite
    ctx = app.state.ctx
    read_rules = store.rules_and_flows

    async def rules_while_the_api_commits(session, tenant_id):
        # the build has read the tenant's row; now an API write commits and invalidates
        rules_cache.invalidate(ctx, tenant_id)
        return await read_rules(session, tenant_id)

    rules_cache.invalidate(ctx, "acme")
    monkeypatch.setattr(store, "rules_and_flows", rules_while_the_api_commits)
    async with ctx.sessions() as session:
        assert (await rules_cache.tenant_rules(ctx, session, "acme")).brand == "Acme Shoes"
    assert "acme" not in ctx.state[rules_cache._KEY]  # used by its caller, not kept

    monkeypatch.setattr(store, "rules_and_flows", read_rules)
    async with ctx.sessions() as session:
        await rules_cache.tenant_rules(ctx, session, "acme")
    assert "acme" in ctx.state[rules_cache._KEY]  # a build with nothing overlapping is kept
