"""POST /v1/messages/preview and its pure core: what a message would cost, as the sender would
send it."""

from __future__ import annotations

from services.sender.preview import CODE_LENGTH, preview

BASE = "https://sms.example/"


def test_plain_text_is_one_gsm7_segment():
    seen = preview("Hi there", True, BASE)
    assert (seen.encoding, seen.segments, seen.characters, seen.units, seen.per_segment) == (
        "GSM-7", 1, 8, 8, 160)
    assert seen.replaced == [] and seen.ucs2_characters == []


def test_look_alikes_are_replaced_when_that_keeps_it_gsm7_and_counted():
    seen = preview("Don\u2019t miss it \u2014 it\u2019s 20% off", True, BASE)
    assert seen.body == "Don't miss it - it's 20% off" and seen.encoding == "GSM-7"
    assert seen.replaced == [{"char": "\u2019", "with": "'", "count": 2},
                             {"char": "\u2014", "with": "-", "count": 1}]
    kept = preview("Don\u2019t", False, BASE)
    assert kept.encoding == "UCS-2" and kept.replaced == [] and kept.ucs2_characters == ["\u2019"]


def test_an_emoji_needs_ucs2_and_splits_at_67_units():
    seen = preview("Thanks \U0001F600 " + "x" * 62, True, BASE)  # the emoji is 2 UTF-16 units
    assert seen.encoding == "UCS-2" and seen.ucs2_characters == ["\U0001F600"]
    assert (seen.units, seen.segments, seen.per_segment) == (72, 2, 67)


def test_extension_characters_take_two_septets_and_long_texts_split_at_153():
    assert preview("€" * 80, True, BASE).units == 160
    long = preview("a" * 161, True, BASE)
    assert (long.segments, long.per_segment) == (2, 153)


def test_a_tracked_link_counts_at_the_length_of_the_short_link():
    seen = preview("Shop {link:https://shop.example/a/very/long/path?with=query|tag=x}", True, BASE)
    assert seen.body == "Shop https://sms.example/l/" + "x" * CODE_LENGTH
    assert seen.characters == len(seen.body)


async def test_the_preview_endpoint_uses_the_tenants_look_alike_setting(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/messages/preview", headers=tenant, json={"body": "It\u2019s here"})
    assert resp.status_code == 200, resp.text
    assert resp.json() | {"replaced": None} == {
        "body": "It's here", "characters": 9, "encoding": "GSM-7", "segments": 1, "units": 9,
        "per_segment": 160, "replaced": None, "ucs2_characters": [], "max_characters": 1600,
        "too_long": False}
    assert resp.json()["replaced"] == [{"char": "\u2019", "with": "'", "count": 1}]
    settings = (await client.get("/v1/messages/settings", headers=tenant)).json()
    await client.put("/v1/messages/settings", headers=tenant,
                     json={**settings, "replace_lookalikes": False})
    off = (await client.post("/v1/messages/preview", headers=tenant,
                             json={"body": "It\u2019s here"})).json()
    assert off["encoding"] == "UCS-2" and off["replaced"] == []
    assert (await client.get("/v1/messages", headers=tenant)).json() == []  # nothing was sent


async def test_a_preview_says_when_the_text_is_too_long_and_refuses_bad_links(suite, tenant):
    _, client = suite
    resp = await client.post("/v1/messages/preview", headers=tenant, json={"body": "a" * 1700})
    assert resp.status_code == 200 and resp.json()["too_long"] is True
    assert resp.json()["segments"] == 12
    bad = await client.post("/v1/messages/preview", headers=tenant, json={"body": "{link:nope}"})
    assert bad.status_code == 422 and "body" in bad.text
    assert (await client.post("/v1/messages/preview", json={"body": "x"})).status_code == 401
