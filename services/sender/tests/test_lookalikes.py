"""GSM-7 look-alikes are replaced only when that keeps the whole message in GSM-7."""

from __future__ import annotations

import pytest

from services.sender.lookalikes import to_gsm7
from services.sender.segments import count_segments

CASES = [
    ("curly quotes", "Don\u2019t miss \u201cthe sale\u201d", "Don't miss \"the sale\""),
    ("long dashes", "Today \u2014 only \u2013 30%", "Today - only - 30%"),
    ("ellipsis and no-break space", "Wait\u2026\u00a0more", "Wait... more"),
    ("zero-width space is dropped", "STOP\u200b", "STOP"),
    ("already GSM-7", "Plain text, 20% off!", "Plain text, 20% off!"),
    ("emoji needs UCS-2 anyway: untouched", "Don\u2019t miss it \U0001F389", "Don\u2019t miss it \U0001F389"),
    ("Cyrillic needs UCS-2 anyway: untouched", "\u201c\u041f\u0440\u0438\u0432\u0435\u0442\u201d",
     "\u201c\u041f\u0440\u0438\u0432\u0435\u0442\u201d"),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_to_gsm7(text, expected):
    assert to_gsm7(text) == expected


def test_one_curly_quote_no_longer_triples_the_cost():
    text = "We\u2019re open late tonight. " + "x" * 120
    assert count_segments(text) == 3 and count_segments(to_gsm7(text)) == 1
