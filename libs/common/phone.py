"""Phone numbers: everything inside Parley is E.164 (`+15555550100`), normalised once at the edge.

Short codes (5–6 digits, US/CA) are kept as they are because they have no E.164 form.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

_SHORT_CODE = re.compile(r"^\d{5,6}$")


class InvalidPhone(ValueError):
    pass


def is_short_code(raw: str) -> bool:
    return bool(_SHORT_CODE.match(raw.strip()))


@functools.lru_cache(maxsize=65_536)  # pure, and every event decode validates its phone again
def to_e164(raw: str, default_region: str = "US") -> str:
    """Return `raw` as E.164, or the short code itself; raise InvalidPhone otherwise."""
    text = (raw or "").strip()
    if is_short_code(text):
        return text
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhone(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask(phone: str) -> str:
    """Phone for logs: country code and last two digits only (`+1*******00`)."""
    if len(phone) <= 4:
        return "*" * len(phone)
    return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]
