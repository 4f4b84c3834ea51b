"""Where a NUL character sits in an input, whatever its shape."""

from __future__ import annotations

from libs.common.inputs import nul_at


def test_a_nul_is_found_with_its_place_and_a_value_that_contains_itself_is_walked_once():
    assert nul_at({"a": [1, {"b": "x\x00"}]}) == ("a", 1, "b")
    assert nul_at({"k\x00": 1}) == ("k\x00",)
    looped: list = []
    looped.append(looped)
    assert nul_at({"a": looped}) is None
