"""GSM-7 look-alikes: typographic characters that push a message into UCS-2 for nothing.

One curly quote turns a 160-character segment into a 70-character one (GSM 03.38 vs UCS-2), so a
pasted "Don’t miss it — 20% off…" costs three times as much. When every other character is GSM-7,
the look-alikes are replaced by their plain forms and the message stays GSM-7; when something
else (an emoji, Cyrillic) needs UCS-2 anyway, the text is left exactly as written. A tenant setting
(`replace_lookalikes`, on by default) turns this off. Pure.
"""

from __future__ import annotations

from services.sender.segments import is_gsm7

LOOKALIKES = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ",
    "\u200b": "", "\u2060": "", "\ufeff": "",
    "\u2022": "*",
}
_TABLE = str.maketrans(LOOKALIKES)


def to_gsm7(text: str) -> str:
    """`text` with look-alikes replaced when that makes it GSM-7; otherwise `text` unchanged."""
    if is_gsm7(text):
        return text
    plain = text.translate(_TABLE)
    return plain if is_gsm7(plain) else text
