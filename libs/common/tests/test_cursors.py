"""Page cursors: URL-safe both ways, holding only the sort key, and anything else refused."""

from __future__ import annotations

import pytest

from libs.common import cursors


def test_a_cursor_is_url_safe_and_gives_its_key_back():
    cursor = cursors.phone_cursor("+15555550100")
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert cursors.decode(cursor) == {"phone": "+15555550100"}
    assert cursors.phone_after(cursor) == "+15555550100"


@pytest.mark.parametrize("raw", ["+15555550100", " 15555550100"])
def test_a_raw_e164_value_is_still_taken_while_callers_move_to_cursors(raw):
    assert cursors.phone_after(raw) == "+15555550100"  # " " is an unencoded "+"


@pytest.mark.parametrize("raw", [
    "not a cursor",                        # outside the alphabet
    "eyJwaG9uZSI6",                         # cut short
    cursors.encode({"at": "2026-11-02"}),  # a cursor of another list
    "WzEsMl0",                              # JSON, but not an object ([1,2])
    "+1555/0100",
    "A" * 600,
])
def test_anything_else_is_refused(raw):
    with pytest.raises(cursors.CursorError, match="cursor"):
        cursors.phone_after(raw)
