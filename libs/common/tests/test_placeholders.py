"""The placeholder grammar and the duration range, as every service checks them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from libs.common import definitions, durations
from libs.common.placeholders import BadPlaceholder, check, link_options

VARS = frozenset({"brand", "size", "colour"})

GOOD = ["no placeholders at all } even a lone brace", "{brand} {size}", "{link:https://a.example}",
        "{link:https://a.example/?s={size}&c={colour}|tag=t|ttl=4h}", "{brand}{link:http://b.example|ttl=365d}"]
BAD = {
    "{nosuchvar}": "names no variable",
    "{name": "unclosed {",
    "{ brand }": "is not a placeholder",
    "{link:https://a.example": "unclosed {link:",
    "{link:https://a b.example}": "is not a tracked link",
    "{link:ftp://a.example}": "is not a tracked link",
    "{link:https://a.example|ttl=366d}": "at most 365d",
    "{link:https://a.example|ttl=5s}": "not a duration",
    "{link:https://a.example|ttl=0m}": "more than 0",
    "{link:https://a.example|ttl={size}}": "ttl=x",
    "{link:https://a.example?{oops}": "{oops} names no variable",
    "{link:https://a.example?{": "unclosed {link:",
    "{{brand}}": "a { always opens a placeholder",
}


@pytest.mark.parametrize("text", GOOD)
def test_well_formed_placeholders_pass(text):
    check(text, VARS)


@pytest.mark.parametrize("text, message", BAD.items(), ids=list(BAD))
def test_each_bad_placeholder_is_named(text, message):
    with pytest.raises(BadPlaceholder, match=message.replace("{", r"\{")):
        check(text, VARS)


def test_a_text_sent_as_written_may_hold_links_but_no_variables():
    check("Reply STOP {link:https://a.example}", ())
    with pytest.raises(BadPlaceholder, match="sent as written"):
        check("Hi from {brand}", ())


@pytest.mark.parametrize("text, expected", [("90s", timedelta(seconds=90)), ("24h", timedelta(hours=24)),
                                            (" 2 d ", timedelta(days=2)), ("52w", timedelta(weeks=52)),
                                            ("365d", timedelta(days=365))])
def test_durations_in_range_parse(text, expected):
    assert durations.parse(text) == expected


@pytest.mark.parametrize("text", ["366d", "0s", "99999999d", "9" * 5000 + "w", "1y", "", "-1h", "１h"])
def test_durations_out_of_range_or_malformed_are_value_errors(text):
    with pytest.raises(ValueError):
        durations.parse(text)


def test_stored_durations_only_need_to_fit_a_timedelta():
    assert durations.parse("99999999d", limit=None) == timedelta(days=99999999)
    assert durations.parse("0s", limit=None) == timedelta(0)
    with pytest.raises(ValueError, match="out of range"):
        durations.parse("9" * 40 + "d", limit=None)


def test_links_already_sent_keep_their_expiry_past_the_limit():
    assert link_options("|ttl=400d", limit=None) == (None, timedelta(days=400))


def test_a_flows_variables_are_its_steps_sets_and_attributes():
    flow = {"steps": {"a": {"options": [{"set": {"x": "1"}, "actions": [
        {"type": "set", "attribute": "y", "value": "2"}]}]},
        "b": {"on_timeout": {"after": "1h", "actions": [{"type": "set", "attribute": "z", "value": "3"}]}}}}
    assert definitions.variables(flow) == {"brand", "a", "b", "x", "y", "z"}
    assert definitions.variables({"steps": "nonsense"}) == {"brand"}



def test_a_text_as_read_shows_each_tracked_link_as_its_url():
    from libs.common.placeholders import as_read

    assert as_read("20% off: {link:https://shop.example/shoes|tag=sale|ttl=4h} today {brand}") == \
        "20% off: https://shop.example/shoes today {brand}"
    assert as_read("no links") == "no links"
