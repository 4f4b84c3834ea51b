"""SMS segment counting: GSM-7 (160 / 153 per part, extension characters count double) versus
UCS-2 (70 / 67 per part, astral characters count double)."""

from __future__ import annotations

import pytest

from services.sender.segments import count_segments, is_gsm7

CASES = [
    ("empty", "", 0),
    ("plain short", "Reply YES to join", 1),
    ("160 plain", "a" * 160, 1),
    ("161 plain", "a" * 161, 2),
    ("306 plain = 2 parts", "a" * 306, 2),
    ("307 plain = 3 parts", "a" * 307, 3),
    ("euro counts double: 80 euros fit", "€" * 80, 1),
    ("euro counts double: 81 euros split", "€" * 81, 2),
    ("bracket counts double", "[" * 79 + "a" * 2, 1),
    ("bracket pushes over", "[" * 80 + "a", 2),
    ("caret brace pipe tilde backslash", "^{}|~\\" + "a" * 148, 1),
    ("gsm accented letters stay gsm", "é" * 160, 1),
    ("gsm umlauts and ñ", "äöüñÄÖÜÑ" * 20, 1),
    ("greek capitals in gsm", "ΔΦΓΛΩΠΨΣΘΞ" * 16, 1),
    ("non-gsm accent forces ucs2", "á" + "a" * 69, 1),
    ("non-gsm accent 71 chars", "á" + "a" * 70, 2),
    ("ucs2 134 = 2 parts", "ç" + "á" * 133, 2),
    ("ucs2 135 = 3 parts", "á" * 135, 3),
    ("emoji is ucs2 and two units", "👍" * 35, 1),
    ("36 emoji overflow", "👍" * 36, 2),
    ("curly quote is not gsm", "\u201chi\u201d", 1),
    ("cyrillic", "Привет" * 12, 2),
    ("newline and cr are gsm", "a\r\n" * 53 + "a", 1),
]


@pytest.mark.parametrize("text, expected", [(t, n) for _, t, n in CASES],
                         ids=[label for label, _, _ in CASES])
def test_count_segments(text, expected):
    assert count_segments(text) == expected


def test_gsm7_detection():
    assert is_gsm7("Hello @ £5 ¿?")
    assert not is_gsm7("Hello 👋")
    assert not is_gsm7("\u2014 long dash")
