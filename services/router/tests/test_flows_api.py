"""/v1/flows and /v1/campaigns: definitions in JSON or YAML, validated with clear 422s."""

from __future__ import annotations

import pytest
import yaml

GOOD = {"id": "survey", "start": "q1", "steps": {
    "q1": {"prompt": "Like it? Reply YES or NO", "options": [
        {"keywords": ["YES"], "next": "q2"}, {"keywords": ["NO"]}]},
    "q2": {"prompt": "Thanks!"}}}

YAML = """
id: survey-yaml
start: q1
steps:
  q1:
    prompt: Rate us 1-5
    options:
      - range: [1, 5]
"""


async def test_a_flow_is_created_in_json_and_replaced(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/flows", headers=tenant, json=GOOD)
    assert resp.status_code == 201, resp.text
    assert resp.json()["version"] == 1
    resp = await client.put("/v1/flows/survey", headers=tenant, json={**GOOD, "name": "v2"})
    assert resp.status_code == 200 and resp.json()["version"] == 2
    assert [f["id"] for f in (await client.get("/v1/flows", headers=tenant)).json()] == ["survey"]


async def test_a_flow_is_accepted_in_yaml(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/flows", headers={**tenant, "content-type": "application/yaml"},
                             content=YAML.encode())
    assert resp.status_code == 201, resp.text
    assert (await client.get("/v1/flows/survey-yaml", headers=tenant)).json()["start"] == "q1"


@pytest.mark.parametrize("patch, message", [
    ({"start": "nowhere"}, "start step 'nowhere' is not defined"),
    ({"steps": {**GOOD["steps"], "q1": {"prompt": "x", "options": [{"keywords": ["Y"], "next": "q9"}]}}},
     "unknown step 'q9'"),
    ({"steps": {**GOOD["steps"], "orphan": {"prompt": "x"}}}, "unreachable steps: orphan"),
    ({"steps": {"q1": {"prompt": "x", "options": [{"keywords": ["A"], "next": "q2"}]},
                "q2": {"prompt": "y", "options": [{"keywords": ["B"], "next": "q1"}]}}},
     "cycle without an exit"),
    ({"steps": {"q1": {"prompt": "x", "options": [{"next": "end"}]}}}, "keywords, a range or any"),
    ({"steps": {"q1": {"prompt": "x", "on_timeout": {"after": "soon"}}}}, "not a duration"),
    ({"steps": {"q1": {"prompt": "x", "actions": [{"type": "teleport"}]}}}, "teleport"),
    ({"id": "Bad Id"}, "id"),
], ids=["unknown start", "unknown next", "unreachable", "cycle", "option matches nothing",
        "bad duration", "unknown action", "bad id"])
async def test_invalid_flows_are_422_naming_the_problem(suite, tenant, patch, message):
    _, client = suite
    resp = await client.post("/v1/flows", headers=tenant, json={**GOOD, **patch})
    assert resp.status_code == 422
    assert message in resp.text


async def test_malformed_yaml_is_422(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/flows", headers={**tenant, "content-type": "application/yaml"},
                             content=b"steps: [unclosed")
    assert resp.status_code == 422 and "malformed YAML" in resp.text


async def test_campaign_rules_crud_and_tenant_scoping(suite, tenant, admin_headers):
    _, client = suite
    rule = {"id": "shoes", "keywords": ["SHOES"], "actions": [{"type": "reply", "text": "Shoes!"}]}
    assert (await client.post("/v1/campaigns", headers=tenant, json=rule)).status_code == 201
    other = await client.post("/v1/tenants", headers=admin_headers, json={"id": "other", "name": "O"})
    other_key = {"Authorization": f"Bearer {other.json()['api_key']}"}
    assert (await client.get("/v1/campaigns/shoes", headers=other_key)).status_code == 404
    assert (await client.delete("/v1/campaigns/shoes", headers=other_key)).status_code == 404
    assert (await client.delete("/v1/campaigns/shoes", headers=tenant)).status_code == 204
    bad = await client.post("/v1/campaigns", headers=tenant, json={"id": "x", "keywords": [], "actions": []})
    assert bad.status_code == 422


async def test_a_campaign_keyword_reply_reaches_the_phone(suite, tenant):
    from libs.common.testing.phone import Phone

    _, client = suite
    rule = {"id": "shoes", "keywords": ["SHOES"], "actions": [{"type": "reply", "text": "Shoes it is!"}]}
    await client.post("/v1/campaigns", headers=tenant, json=rule)
    phone = Phone(client, "+15555550301")
    await phone.text("shose")  # a typo still reaches the campaign
    assert await phone.receive() == ["Shoes it is!"]


def _with_webhook(url: str) -> dict:
    steps = {**GOOD["steps"], "q2": {"prompt": "Thanks!", "actions": [{"type": "webhook", "url": url}]}}
    return {**GOOD, "steps": steps}


WEBHOOK_LOC = ["steps", "q2", "actions", 0, "webhook", "url"]


@pytest.mark.parametrize("url, reason", [
    ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address"),
    ("ftp://hooks.acme.com/x", "String should match pattern"),
    ("https://user:secret@hooks.acme.com/x", "must not carry a user name or password"),
    ("http://localhost:8080/admin", "localhost is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "(127.0.0.1) is a loopback address"),
    ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
    ("http://2130706433/", "127.0.0.1 is a loopback address"),
], ids=["metadata", "ftp", "userinfo", "localhost", "mapped loopback", "private", "decimal loopback"])
async def test_a_webhook_to_an_internal_or_odd_url_is_422_naming_the_field(suite, tenant, url, reason):
    _, client = suite
    resp = await client.post("/v1/flows", headers=tenant, json=_with_webhook(url))
    assert resp.status_code == 422, resp.text
    (error,) = resp.json()["detail"]
    assert error["loc"] == WEBHOOK_LOC and reason in error["msg"], error
    rule = {"id": "hook", "keywords": ["HOOK"], "actions": [{"type": "webhook", "url": url}]}
    resp = await client.post("/v1/campaigns", headers=tenant, json=rule)
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["actions", 0, "webhook", "url"]


async def test_private_receivers_are_accepted_with_the_setting_but_metadata_never(suite, tenant):
    app, client = suite
    app.state.ctx.settings.webhook_allow_private = True
    for url in ("http://localhost:9000/hook", "http://10.0.0.5/hook"):
        resp = await client.put("/v1/flows/survey", headers=tenant, json=_with_webhook(url))
        assert resp.status_code in (200, 201), resp.text
    resp = await client.put("/v1/flows/survey", headers=tenant,
                            json=_with_webhook("http://169.254.169.254/latest"))
    assert resp.status_code == 422 and "cloud metadata" in resp.text


async def test_public_and_placeholder_webhook_urls_are_accepted(suite, tenant):
    _, client = suite
    for url in ("https://hooks.acme.com/parley", "https://support.example/hooks/parley"):
        resp = await client.put("/v1/flows/survey", headers=tenant, json=_with_webhook(url))
        assert resp.status_code in (200, 201), resp.text
def _with_trigger(kind: str, after: str) -> dict:
    return {**GOOD, "steps": {**GOOD["steps"], "q1": {**GOOD["steps"]["q1"], kind: {"after": after}}}}


TOO_LONG = ["99999999d", "366d", "53w", "9" * 40 + "s", "0h"]


async def test_a_duration_out_of_range_is_422_naming_its_path(suite, tenant):
    _, client = suite
    for kind in ("on_timeout", "on_click", "on_no_click"):
        for after in TOO_LONG:
            resp = await client.post("/v1/flows", headers=tenant, json=_with_trigger(kind, after))
            assert resp.status_code == 422, (kind, after, resp.text)
            [error] = resp.json()["detail"]
            assert error["loc"] == ["steps", "q1", kind, "after"], error
            assert "more than 0 and at most 365d" in error["msg"], error


async def test_a_duration_up_to_a_year_is_accepted(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/flows", headers=tenant, json=_with_trigger("on_timeout", "365d"))
    assert resp.status_code == 201, resp.text


LINK_TEXTS = {
    "ttl over a year": ("{link:https://shop.example/x|ttl=400d}", "at most 365d"),
    "ttl of zero": ("{link:https://shop.example/x|ttl=0h}", "ttl"),
    "ttl not a duration": ("{link:https://shop.example/x|ttl=soon}", "ttl"),
    "unknown option": ("{link:https://shop.example/x|colour=red}", "colour=red"),
    "unclosed link": ("Shop {link:https://shop.example/x now", "unclosed"),
}


async def test_a_bad_tracked_link_in_a_prompt_or_reply_is_refused_when_saved(suite, tenant):
    _, client = suite
    for label, (text, message) in LINK_TEXTS.items():
        flow = {**GOOD, "steps": {**GOOD["steps"], "q2": {"prompt": f"Thanks! {text}"}}}
        resp = await client.post("/v1/flows", headers=tenant, json=flow)
        assert resp.status_code == 422, (label, resp.text)
        [error] = resp.json()["detail"]
        assert error["loc"] == ["steps", "q2", "prompt"] and message in error["msg"], (label, error)
        rule = {"id": "shoes", "keywords": ["SHOES"], "actions": [{"type": "reply", "text": text}]}
        resp = await client.post("/v1/campaigns", headers=tenant, json=rule)
        assert resp.status_code == 422, (label, resp.text)
        [error] = resp.json()["detail"]
        assert error["loc"] == ["actions", 0, "text"] and message in error["msg"], (label, error)


VARIABLES_FLOW = {"id": "vars", "start": "size", "steps": {
    "size": {"prompt": "Hi from {brand}! Your size?", "options": [
        {"any": True, "set": {"asked": "yes"}, "next": "colour"}]},
    "colour": {"prompt": "Size {size} it is. Colour?",
               "actions": [{"type": "set", "attribute": "tier", "value": "gold"}],
               "fallback": "Sorry {tier} member, reply a colour",
               "options": [{"keywords": ["RED"], "next": "done"}]},
    "done": {"prompt": "{colour} in {size} ({asked}, {tier}): {link:https://shop.example/s?c={colour}|tag=x}"}}}


async def test_placeholders_may_name_step_ids_set_variables_attributes_and_brand(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/flows", headers=tenant, json=VARIABLES_FLOW)
    assert resp.status_code == 201, resp.text


BAD_PLACEHOLDERS = {
    "unknown variable in a prompt": (("steps", "done", "prompt"), "Hi {nosuchvar}",
                                     "{nosuchvar} names no variable"),
    "unclosed variable": (("steps", "done", "prompt"), "Hi {name", "unclosed {"),
    "not a name": (("steps", "done", "prompt"), "Hi {first name}", "is not a placeholder"),
    "unknown variable in a fallback": (("steps", "colour", "fallback"), "Pick {nosuch}", "names no variable"),
    "unknown variable inside a link": (("steps", "done", "prompt"), "{link:https://x.example/?q={nope}}",
                                       "{nope} names no variable"),
}


async def test_a_placeholder_that_names_nothing_is_refused_naming_the_text(suite, tenant):
    _, client = suite
    for label, (loc, text, message) in BAD_PLACEHOLDERS.items():
        flow = {**VARIABLES_FLOW, "steps": {**VARIABLES_FLOW["steps"]}}
        flow["steps"][loc[1]] = {**flow["steps"][loc[1]], loc[2]: text}
        resp = await client.post("/v1/flows", headers=tenant, json=flow)
        assert resp.status_code == 422, (label, resp.text)
        [error] = resp.json()["detail"]
        assert error["loc"] == list(loc) and message in error["msg"], (label, error)
    reply = {"type": "reply", "text": "Hello {name}"}
    resp = await client.post("/v1/campaigns", headers=tenant,
                             json={"id": "hi", "keywords": ["HI"], "actions": [reply]})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["actions", 0, "text"]
    ok = [{"type": "set", "attribute": "name", "value": "friend"}, reply]
    resp = await client.post("/v1/campaigns", headers=tenant,
                             json={"id": "hi", "keywords": ["HI"], "actions": ok})
    assert resp.status_code == 201, resp.text


async def test_a_score_event_that_no_weight_could_name_is_refused(suite, tenant):
    _, client = suite
    rule = {"id": "vip", "keywords": ["VIP"], "actions": [{"type": "score", "event": "Big Spender!"}]}
    resp = await client.post("/v1/campaigns", headers=tenant, json=rule)
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["actions", 0, "score", "event"]


async def test_a_handoff_acknowledgement_is_checked_like_any_text(suite, tenant):
    _, client = suite
    bad = {"type": "handoff", "reason": "vip", "ack": "An agent will text you, {nope}"}
    resp = await client.post("/v1/campaigns", headers=tenant,
                             json={"id": "vip", "keywords": ["VIP"], "actions": [bad]})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["actions", 0, "ack"], resp.text
    good = {**bad, "ack": "An agent at {brand} will text you"}
    resp = await client.post("/v1/campaigns", headers=tenant,
                             json={"id": "vip", "keywords": ["VIP"], "actions": [good]})
    assert resp.status_code == 201, resp.text


BROKEN_YAML = """\
id: survey-yaml
start: q1
steps:
  q1:
    prompt: Rate us 1-5
    max_fallbacks: 99
    options:
      - range: [1, 5]
        actions:
          - type: label
            label: ""
"""


async def test_a_yaml_flows_errors_carry_the_line_they_point_at(suite, tenant):
    _, client = suite
    resp = await client.put("/v1/flows/survey-yaml", headers={**tenant, "content-type": "application/yaml"},
                            content=BROKEN_YAML.encode())
    assert resp.status_code == 422
    by_field = {".".join(map(str, e["loc"])): (e["line"], e["column"]) for e in resp.json()["detail"]}
    assert by_field == {"steps.q1.max_fallbacks": (6, 5),
                        "steps.q1.options.0.actions.0.label.label": (11, 13)}
    json_resp = await client.post("/v1/flows", headers=tenant, json=yaml.safe_load(BROKEN_YAML))
    assert json_resp.status_code == 422 and all("line" not in e for e in json_resp.json()["detail"])


async def test_a_yaml_syntax_error_is_a_422_with_its_line(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/flows", headers={**tenant, "content-type": "application/yaml"},
                             content=b"id: x\nstart: a\nsteps:\n  a: [1, 2\n  b: 3\n")
    assert resp.status_code == 422
    (error,) = resp.json()["detail"]
    assert error["msg"].startswith("malformed YAML") and error["line"] == 5


async def test_a_definition_is_served_as_yaml_to_edit_and_saved_back_unchanged(suite, tenant):
    _, client = suite
    assert (await client.post("/v1/flows", headers=tenant, json=GOOD)).status_code == 201
    resp = await client.get("/v1/flows/survey", headers={**tenant, "accept": "application/yaml"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/yaml")
    assert "version" not in resp.text and "synonyms" not in resp.text  # no server fields, no defaults
    back = await client.put("/v1/flows/survey", headers={**tenant, "content-type": "application/yaml"},
                            content=resp.content)
    assert back.status_code == 200, back.text
    before = {k: v for k, v in back.json().items() if k not in ("version", "updated_at")}
    first = (await client.get("/v1/flows/survey", headers=tenant)).json()
    assert before == {k: v for k, v in first.items() if k not in ("version", "updated_at")}


async def test_flows_and_campaigns_are_deactivated_and_activated(suite, tenant):
    _, client = suite
    rule = {"id": "shoes", "keywords": ["SHOES"], "actions": [{"type": "reply", "text": "Shoes!"}]}
    await client.post("/v1/campaigns", headers=tenant, json=rule)
    await client.post("/v1/flows", headers=tenant, json=GOOD)
    for kind, item in (("campaigns", "shoes"), ("flows", "survey")):
        off = await client.post(f"/v1/{kind}/{item}/deactivate", headers=tenant)
        assert off.status_code == 200 and off.json()["active"] is False, off.text
        assert (await client.get(f"/v1/{kind}/{item}", headers=tenant)).json()["active"] is False
        on = await client.post(f"/v1/{kind}/{item}/activate", headers=tenant)
        assert on.json()["active"] is True
        assert (await client.post(f"/v1/{kind}/nope/activate", headers=tenant)).status_code == 404
