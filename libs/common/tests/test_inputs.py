"""Where text that cannot be stored sits in an input, whatever its shape."""

from __future__ import annotations

from libs.common.inputs import unstorable_at


def test_a_nul_or_a_lone_surrogate_is_found_with_its_place():
    assert unstorable_at({"a": [1, {"b": "x\x00"}]}) == (("a", 1, "b"), "text may not contain a NUL "
                                                                        "character (\\u0000)")
    assert unstorable_at({"k\x00": 1})[0] == ("k\x00",)
    assert unstorable_at({"rule": {"label": "\ud800"}})[0] == ("rule", "label")
    assert unstorable_at({"fine": ["😀", "é", 1, None]}) is None


def test_a_value_that_contains_itself_is_walked_once():
    looped: list = []
    looped.append(looped)
    assert unstorable_at({"a": looped}) is None
