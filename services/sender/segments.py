"""SMS segment counting (what carriers bill): GSM-7 when every character fits, else UCS-2.

GSM 03.38: 160 septets in one segment, 153 per part once split (the UDH takes 7); extension-table
characters (€ [ ] { } \\ ~ ^ |, form feed) take two septets. UCS-2: 70 code units, 67 per part;
characters outside the BMP (most emoji) take two code units.
"""

from __future__ import annotations

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def units(text: str) -> tuple[int, int, int]:
    """(units the text takes, units in a single segment, units per part once split)."""
    if is_gsm7(text):
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text), 160, 153
    return len(text.encode("utf-16-le")) // 2, 70, 67


def count_segments(text: str) -> int:
    if not text:
        return 0
    used, single, part = units(text)
    return 1 if used <= single else -(-used // part)
