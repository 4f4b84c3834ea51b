"""Numbers and bodies as carriers send them, made uniform once, here at the edge.

Numbers become E.164 with `phonenumbers`. Vonage and Plivo document international numbers without
the '+' (`447700900001`), so for them a digits-only number is read as international first. A
subscriber is never a short code; Parley's own number may be one (3–8 digits, kept as received and
marked as such: short codes have no E.164 form).
"""

from __future__ import annotations

import unicodedata

import phonenumbers

from services.ingress.carriers.base import BadRequest

DEFAULT_REGION = "US"
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_PUNCTUATION = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                              "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2032": "'",
                              "\u2013": "-", "\u2014": "-"})


def body(text: str) -> str:
    """The body for matching: NFKC (full-width and ligatures folded, '…' → '...'), zero-width
    characters dropped, curly quotes and dashes made ASCII, whitespace collapsed; case kept."""
    folded = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).translate(_PUNCTUATION)
    return " ".join(folded.split())


def _try(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _parse(text: str, plus_optional: bool) -> phonenumbers.PhoneNumber | None:
    if text.startswith("+"):
        number = _try(text, None)
        # Possible, not valid: test ranges such as +1 555 are what simulators and demos use.
        return number if number is not None and phonenumbers.is_possible_number(number) else None
    # Digits alone: a real international number first, then a possible national one, then a
    # possible international one (the UK's 07700 900xxx drama range is "possible" only).
    international = _try("+" + text, None) if plus_optional and text.isdigit() else None
    if international is not None and phonenumbers.is_valid_number(international):
        return international
    national = _try(text, DEFAULT_REGION)
    for number in (national, international):
        if number is not None and phonenumbers.is_possible_number(number):
            return number
    return None


def _clean(raw: str) -> str:
    return "".join(ch for ch in raw.strip() if ch not in " ()-.\u00a0")


def subscriber(raw: str, *, plus_optional: bool, field: str) -> str:
    """A subscriber's number as E.164, else 422 naming the field."""
    text = _clean(raw)
    if text.isdigit() and len(text) <= 8:
        raise BadRequest(f"'{field}' must be a subscriber's number, not a short code: {raw!r}", 422,
                         "bad_phone")
    number = _parse(text, plus_optional) if text else None
    if number is None:
        raise BadRequest(f"'{field}' is not a phone number: {raw[:40]!r}", 422, "bad_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def own_number(raw: str, *, plus_optional: bool, field: str) -> tuple[str, bool]:
    """Parley's number that was texted: (E.164, False) or (short code as received, True)."""
    text = _clean(raw)
    if text.isdigit() and 3 <= len(text) <= 8:
        return text, True
    return subscriber(raw, plus_optional=plus_optional, field=field), False
