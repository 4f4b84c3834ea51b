"""Input that used to get past validation and fail later (a 5xx, a database error on PostgreSQL,
or text a subscriber would receive as written) is refused at the edge with a 422 naming its
place. The property test (`test_api_properties.py`) found most of these; here each is pinned."""

from __future__ import annotations

import json

GOOD_FLOW = {"id": "survey", "start": "q1", "steps": {"q1": {"prompt": "Like it? Reply YES",
                                                             "options": [{"keywords": ["YES"]}]}}}


def json_body(headers: dict) -> dict:
    return {**headers, "content-type": "application/json"}


def dumps(value) -> bytes:
    """JSON as Python writes it, NaN and Infinity included (a client may send them)."""
    return json.dumps(value).encode()


async def refused(resp, loc=None, message=""):
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    text = detail if isinstance(detail, str) else " ".join(d["msg"] for d in detail)
    assert message in text, detail
    if loc is not None:
        assert [d["loc"] for d in detail] == [loc], detail


async def test_text_no_database_can_store_is_refused_anywhere_in_a_body_naming_its_place(suite, tenant):
    _, client = suite
    nul = "text may not contain a NUL character"
    await refused(await client.patch("/v1/tenants/acme", headers=tenant, json={"brand": "Acme\x00"}),
                  ["body", "brand"], nul)
    flow = {**GOOD_FLOW, "steps": {"q1": {**GOOD_FLOW["steps"]["q1"], "prompt": "Hi\x00"}}}
    await refused(await client.post("/v1/flows", headers=tenant, json=flow), ["steps", "q1", "prompt"], nul)
    await refused(await client.patch("/v1/subscribers/+15555550100/attributes", headers=tenant,
                                     json={"attributes": {"city": "Par\x00is"}}),
                  ["body", "attributes", "city"], nul)
    await refused(await client.post("/v1/segments", headers=tenant,
                                    json={"name": "x", "rule": {"label": "a\x00"}}),
                  ["body", "rule", "label"], nul)
    resp = await client.post("/v1/segments", headers={**tenant, "content-type": "application/json"},
                             content=b'{"name": "x", "rule": {"label": "\\ud800"}}')  # valid JSON, not text
    await refused(resp, ["body", "rule", "label"], "lone surrogate")
    await refused(await client.post("/v1/messages", headers=tenant,
                                    json={"to": "+15555550100", "body": "\x00", "kind": "transactional"}),
                  ["body", "body"], nul)


async def test_a_nul_character_in_the_url_is_refused(suite, tenant):
    _, client = suite
    await refused(await client.delete("/v1/flows/a%00b", headers=tenant), message="NUL")
    await refused(await client.post("/v1/imports?file_name=x%00.csv", headers=tenant, content=b"phone\n"),
                  message="NUL")


async def test_a_body_that_is_not_utf8_or_holds_infinity_is_a_422_not_a_crash(suite, tenant):
    _, client = suite
    await refused(await client.post("/v1/dnc", headers=tenant, content=b"\xff\xfe"))
    await refused(await client.post("/v1/conversions", headers={**tenant, "content-type": "application/json"},
                                    content=b'{"phone": "+15555550100", "order_id": "o", "value": 1e999}'),
                  ["body", "value"], "finite")


async def test_texts_sent_as_written_may_not_hold_variables(suite, tenant):
    _, client = suite
    await refused(await client.patch("/v1/tenants/acme", headers=tenant, json={"help_text": "{name}: help"}),
                  ["body", "help_text"], "this text may use {brand}")
    await refused(await client.put("/v1/programs/alerts", headers=tenant, json={"opt_in_text": "Hi {name"}),
                  ["opt_in_text"], "unclosed {")
    resp = await client.post("/v1/segments", headers=tenant, json={"id": "all", "name": "All",
                                                                   "rule": {"consent": "opted_in"}})
    assert resp.status_code == 201, resp.text
    await refused(await client.post("/v1/broadcasts", headers=tenant, json={
        "segment_id": "all", "body": "Hi {first_name}"}), ["body", "body"], "{first_name} names no variable")
    await refused(await client.post("/v1/broadcasts", headers=tenant, json={
        "segment_id": "all", "body": "Sale {link:https://a.example|ttl=400d}"}), ["body", "body"], "365d")


async def test_values_past_what_is_stored_are_refused(suite, tenant):
    _, client = suite
    long_keyword = {**GOOD_FLOW, "steps": {"q1": {"prompt": "x", "options": [{"keywords": ["Y" * 65]}]}}}
    await refused(await client.post("/v1/flows", headers=tenant, json=long_keyword),
                  ["steps", "q1", "options", 0, "keywords", 0], "1 to 64 characters")
    await refused(await client.post("/v1/campaigns", headers=tenant, json={
        "id": "x", "keywords": ["X"], "actions": [{"type": "label", "label": "Not A Label"}]}),
        ["actions", 0, "label", "label"], "a label is")
    await refused(await client.post("/v1/conversations/start",
                                    headers={**tenant, "Idempotency-Key": "k" * 201},
                                    json={"phone": "+15555550100", "flow_id": "survey"}),
                  message="Idempotency-Key: 1 to 200")
    await refused(await client.post("/v1/experiments", headers=tenant, json={
        "name": "E", "campaign_id": "c", "min_sends": 2**40,
        "variants": [{"key": "a", "prompt": "A"}, {"key": "b", "prompt": "B"}]}), ["body", "min_sends"])



async def test_a_do_not_contact_list_with_bare_carriage_returns_is_read(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/dnc/import", headers=tenant, content=b"phone\n+15555550100\r+15555550101\n")
    assert resp.status_code == 200 and resp.json() == {"added": 2, "errors": []}, resp.text


WHEN = [("0001-01-01T00:00:00+05:00", "off the calendar"), ("1999-12-31T23:59:59Z", "before 2000"),
        ("9999-12-31T23:59:59-05:00", "off the calendar"), ("2999-01-01T00:00:00Z", "future")]


async def test_times_of_what_already_happened_are_refused_in_the_future_or_off_the_calendar(suite, tenant):
    _, client = suite
    order = {"phone": "+15555550100", "order_id": "o1", "value": "9.99"}
    for when, message in WHEN:
        resp = await client.post("/v1/conversions", headers=tenant, json={**order, "occurred_at": when})
        await refused(resp, ["body", "occurred_at"], message)
    resp = await client.post("/v1/opt-ins", headers=tenant, json={
        "phone": "+15555550100", "disclosure": "I agree", "at": "2999-01-01T00:00:00Z"})
    await refused(resp, ["body", "at"], "future")


async def test_numbers_no_float_or_column_holds_are_refused(suite, tenant):
    _, client = suite
    huge = 10**400  # valid JSON, past any float
    nan = {"attribute": {"name": "size", "eq": float("nan")}}
    for rule, where in [({"score": {"gt": huge}}, ["body", "rule", "score", "gt"]),
                        (nan, ["body", "rule", "attribute", "eq"])]:
        resp = await client.post("/v1/segments/count", headers=json_body(tenant),
                                 content=dumps({"rule": rule}))
        await refused(resp, where, "finite number")
    for value, message in [(10**600, "at most 500 characters"), (float("inf"), "finite number")]:
        resp = await client.patch("/v1/subscribers/+15555550100/attributes", headers=json_body(tenant),
                                  content=dumps({"attributes": {"size": value}}))
        await refused(resp, message=message)
